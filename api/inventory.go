package api

import (
	"net/http"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
)

func (s *Server) stock(c *gin.Context) {
	st, err := s.inventory.Stock(c.Request.Context(), principal(c), c.Param("code"))
	s.respond(c, http.StatusOK, st, err)
}

func (s *Server) getUnit(c *gin.Context) {
	u, err := s.inventory.Unit(c.Request.Context(), principal(c), c.Param("imei"))
	s.respond(c, http.StatusOK, u, err)
}

func (s *Server) registerUnit(c *gin.Context) {
	var in models.UnitInput
	if !s.bindJSON(c, &in) {
		return
	}
	u, err := s.inventory.RegisterUnit(c.Request.Context(), principal(c), in)
	s.respond(c, http.StatusCreated, u, err)
}

// registerUnits answers 200 whatever was refused: the refusals are per IMEI, in the body.
func (s *Server) registerUnits(c *gin.Context) {
	var in models.UnitsInput
	if !s.bindJSON(c, &in) {
		return
	}
	res, err := s.inventory.RegisterUnits(c.Request.Context(), principal(c), in)
	s.respond(c, http.StatusOK, res, err)
}

func (s *Server) swap(c *gin.Context) {
	var in models.SwapInput
	if !s.bindJSON(c, &in) {
		return
	}
	sw, err := s.inventory.Swap(c.Request.Context(), principal(c), c.Param("id"), in)
	s.respond(c, http.StatusCreated, sw, err)
}

func (s *Server) getSwap(c *gin.Context) {
	sw, err := s.inventory.GetSwap(c.Request.Context(), principal(c), c.Param("id"))
	s.respond(c, http.StatusOK, sw, err)
}

func (s *Server) retrySwap(c *gin.Context) {
	sw, err := s.inventory.RetrySwap(c.Request.Context(), principal(c), c.Param("id"))
	s.respond(c, http.StatusOK, sw, err)
}

func (s *Server) undoSwap(c *gin.Context) {
	var in models.ReasonInput
	if !s.bindJSON(c, &in) {
		return
	}
	sw, err := s.inventory.UndoSwap(c.Request.Context(), principal(c), c.Param("id"), in.Reason)
	s.respond(c, http.StatusOK, sw, err)
}

func (s *Server) endorsementPDF(c *gin.Context) {
	doc, err := s.inventory.Endorsement(c.Request.Context(), principal(c), c.Param("id"))
	s.sendPDF(c, doc, err)
}

func (s *Server) serviceChange(c *gin.Context) {
	var in models.ServiceChangeInput
	if !s.bindJSON(c, &in) {
		return
	}
	sw, err := s.inventory.ServiceChange(c.Request.Context(), principal(c), c.Param("swap_id"), in)
	s.respond(c, http.StatusOK, sw, err)
}

func (s *Server) createReturn(c *gin.Context) {
	var in models.IMEIsInput
	if !s.bindJSON(c, &in) {
		return
	}
	r, err := s.inventory.CreateReturn(c.Request.Context(), principal(c), in.IMEIs)
	s.respond(c, http.StatusCreated, r, err)
}

type statusQuery struct {
	Status string `form:"status" validate:"omitempty,oneof=draft dispatched received received_with_discrepancies"`
}

func (s *Server) listReturns(c *gin.Context) {
	q := statusQuery{Status: c.Query("status")}
	if err := s.validate(q); err != nil {
		s.problem(c, err)
		return
	}
	page, err := s.page(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	items, next, err := s.inventory.ListReturns(c.Request.Context(), principal(c), q.Status, page)
	s.respond(c, http.StatusOK, gin.H{"items": nonNil(items), "next_cursor": next}, err)
}

func (s *Server) getReturn(c *gin.Context) {
	r, err := s.inventory.GetReturn(c.Request.Context(), principal(c), c.Param("id"))
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) dispatchReturn(c *gin.Context) {
	r, err := s.inventory.DispatchReturn(c.Request.Context(), principal(c), c.Param("id"))
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) packingListPDF(c *gin.Context) {
	doc, err := s.inventory.PackingList(c.Request.Context(), principal(c), c.Param("id"))
	s.sendPDF(c, doc, err)
}

func (s *Server) receiveReturn(c *gin.Context) {
	var in models.ReceiveReturnInput
	if !s.bindJSON(c, &in) {
		return
	}
	r, err := s.inventory.ReceiveReturn(c.Request.Context(), principal(c), c.Param("id"), in)
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) resolveDiscrepancy(c *gin.Context) {
	var in models.ResolveInput
	if !s.bindJSON(c, &in) {
		return
	}
	r, err := s.inventory.ResolveDiscrepancy(c.Request.Context(), principal(c), c.Param("id"), c.Param("discrepancy_id"), in)
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) requestRestock(c *gin.Context) {
	var in models.RestockInput
	if !s.bindJSON(c, &in) {
		return
	}
	r, err := s.inventory.RequestRestock(c.Request.Context(), principal(c), in)
	s.respond(c, http.StatusCreated, r, err)
}

type restockQuery struct {
	Status     string `form:"status" validate:"omitempty,oneof=open fulfilled received rejected"`
	CentreCode string `form:"centre_code" validate:"omitempty,code"`
}

func (s *Server) listRestock(c *gin.Context) {
	q := restockQuery{Status: c.Query("status"), CentreCode: c.Query("centre_code")}
	if err := s.validate(q); err != nil {
		s.problem(c, err)
		return
	}
	page, err := s.page(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	items, next, err := s.inventory.ListRestock(c.Request.Context(), principal(c), services.RestockFilter{Status: q.Status, CentreCode: q.CentreCode}, page)
	s.respond(c, http.StatusOK, gin.H{"items": nonNil(items), "next_cursor": next}, err)
}

func (s *Server) getRestock(c *gin.Context) {
	r, err := s.inventory.GetRestock(c.Request.Context(), principal(c), c.Param("id"))
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) fulfilRestock(c *gin.Context) {
	var in models.IMEIsInput
	if !s.bindJSON(c, &in) {
		return
	}
	r, err := s.inventory.FulfilRestock(c.Request.Context(), principal(c), c.Param("id"), in.IMEIs)
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) receiveRestock(c *gin.Context) {
	var in models.IMEIsInput
	if !s.bindJSON(c, &in) {
		return
	}
	r, err := s.inventory.ReceiveRestock(c.Request.Context(), principal(c), c.Param("id"), in.IMEIs)
	s.respond(c, http.StatusOK, r, err)
}

func (s *Server) rejectRestock(c *gin.Context) {
	var in models.ReasonInput
	if !s.bindJSON(c, &in) {
		return
	}
	r, err := s.inventory.RejectRestock(c.Request.Context(), principal(c), c.Param("id"), in.Reason)
	s.respond(c, http.StatusOK, r, err)
}
