package api

import (
	"net/http"
	"strings"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
)

func (s *Server) listTestCatalogue(c *gin.Context) {
	items, err := s.repairs.ListCatalogue(c.Request.Context(), principal(c), services.CatalogueTests)
	s.respond(c, http.StatusOK, list(items), err)
}

func (s *Server) listActionCatalogue(c *gin.Context) {
	items, err := s.repairs.ListCatalogue(c.Request.Context(), principal(c), services.CatalogueActions)
	s.respond(c, http.StatusOK, list(items), err)
}

func (s *Server) saveTest(c *gin.Context)   { s.saveCatalogueItem(c, services.CatalogueTests) }
func (s *Server) saveAction(c *gin.Context) { s.saveCatalogueItem(c, services.CatalogueActions) }

func (s *Server) saveCatalogueItem(c *gin.Context, kind services.Catalogue) {
	var in models.CatalogueInput
	if !s.bindVersioned(c, &in, &in.Version) {
		return
	}
	item, err := s.repairs.SaveCatalogueItem(c.Request.Context(), principal(c), kind, c.Param("code"), in)
	status := http.StatusOK
	if in.Version == nil {
		status = http.StatusCreated
	}
	s.respond(c, status, item, err)
}

func (s *Server) getRepair(c *gin.Context) {
	r, err := s.repairs.Get(c.Request.Context(), principal(c), c.Param("id"))
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) updateRepair(c *gin.Context) {
	var in models.RepairUpdate
	if !s.bindVersioned(c, &in, &in.Version) {
		return
	}
	r, err := s.repairs.Update(c.Request.Context(), principal(c), c.Param("id"), in)
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) recordTests(c *gin.Context) {
	var in models.TestResultsUpdate
	if !s.bindVersioned(c, &in, &in.Version) {
		return
	}
	r, err := s.repairs.RecordTests(c.Request.Context(), principal(c), c.Param("id"), in)
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) certify(c *gin.Context) {
	var in models.CertifyInput
	if !s.bindJSON(c, &in) {
		return
	}
	cert, err := s.repairs.Certify(c.Request.Context(), principal(c), c.Param("id"), in)
	s.respond(c, http.StatusCreated, cert, err)
}

// certificatePDF serves the PDF exactly as issued. Its hash is the ETag: the bytes never
// change.
func (s *Server) certificatePDF(c *gin.Context) {
	number, ok := strings.CutSuffix(c.Param("number"), ".pdf")
	if !ok {
		s.problem(c, models.NotFound("certificate"))
		return
	}
	body, cert, err := s.repairs.CertificatePDF(c.Request.Context(), principal(c), number)
	if err != nil {
		s.problem(c, err)
		return
	}
	sendPDF(c, body, cert.PDFSHA256, cert.Number+".pdf")
}

// sendPDF writes a stored document: inline, so that the browser shows it for printing.
func sendPDF(c *gin.Context, body []byte, sha256, filename string) {
	etag := `"` + sha256 + `"`
	c.Header("ETag", etag)
	c.Header("Cache-Control", "private, no-cache")
	c.Header("Content-Disposition", `inline; filename="`+filename+`"`)
	c.Header("X-Content-Type-Options", "nosniff")
	if c.GetHeader("If-None-Match") == etag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/pdf", body)
}

func (s *Server) voidCertificate(c *gin.Context) {
	var in models.ReasonInput
	if !s.bindJSON(c, &in) {
		return
	}
	cert, err := s.repairs.Void(c.Request.Context(), principal(c), c.Param("number"), in.Reason)
	s.respond(c, http.StatusOK, cert, err)
}
