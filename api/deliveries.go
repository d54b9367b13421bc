package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type deliveriesQuery struct {
	Status string `form:"status" validate:"omitempty,oneof=pending failed dead delivered"`
}

func (s *Server) listDeliveries(c *gin.Context) {
	q := deliveriesQuery{Status: c.Query("status")}
	page, err := s.page(c)
	if err == nil {
		err = s.validate(q)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	items, next, err := s.deliveries.List(c.Request.Context(), principal(c), q.Status, page)
	s.respond(c, http.StatusOK, gin.H{"items": nonNil(items), "next_cursor": next}, err)
}

func (s *Server) replayDelivery(c *gin.Context) {
	n, err := s.deliveries.Replay(c.Request.Context(), principal(c), []string{c.Param("id")})
	s.respond(c, http.StatusOK, gin.H{"replayed": n}, err)
}

type replayRequest struct {
	IDs []string `json:"ids" validate:"required,min=1,max=500,dive,required,max=40"`
}

func (s *Server) replayDeliveries(c *gin.Context) {
	var in replayRequest
	if !s.bindJSON(c, &in) {
		return
	}
	n, err := s.deliveries.Replay(c.Request.Context(), principal(c), in.IDs)
	s.respond(c, http.StatusOK, gin.H{"replayed": n}, err)
}
