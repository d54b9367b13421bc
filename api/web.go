package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

func (s *Server) webRoutes(r *gin.Engine) {}

func (s *Server) webNotFound(c *gin.Context) { c.String(http.StatusNotFound, "not found") }
