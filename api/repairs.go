package api

import (
	"mime"
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
	doc, _, err := s.repairs.CertificatePDF(c.Request.Context(), principal(c), number)
	s.sendPDF(c, doc, err)
}

// sendPDF writes a stored document, or the problem: inline, so that the browser shows
// it for printing, or as an attachment with ?download=1. Its hash is the ETag: the bytes
// never change.
func (s *Server) sendPDF(c *gin.Context, doc *models.Document, err error) {
	if err != nil {
		s.problem(c, err)
		return
	}
	writePDF(c, doc)
}

func writePDF(c *gin.Context, doc *models.Document) {
	etag := `"` + doc.SHA256 + `"`
	disposition := "inline"
	if c.Query("download") == "1" {
		disposition = "attachment"
	}
	c.Header("ETag", etag)
	c.Header("Cache-Control", "private, no-cache")
	c.Header("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": doc.Name}))
	c.Header("X-Content-Type-Options", "nosniff")
	if c.GetHeader("If-None-Match") == etag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/pdf", doc.Body)
}

func (s *Server) voidCertificate(c *gin.Context) {
	var in models.ReasonInput
	if !s.bindJSON(c, &in) {
		return
	}
	cert, err := s.repairs.Void(c.Request.Context(), principal(c), c.Param("number"), in.Reason)
	s.respond(c, http.StatusOK, cert, err)
}
