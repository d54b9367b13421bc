package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// routes maps the whole HTTP surface in one place.
func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Ticket numbers may hold '/', sent as %2F: match on the raw path, then unescape.
	r.UseRawPath = true
	r.UnescapePathValues = true
	r.RemoveExtraSlash = false
	r.RedirectTrailingSlash = false
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.Use(s.recoverer, s.requestID, s.observe, s.limitBody)
	r.NoRoute(func(c *gin.Context) { s.noRoute(c) })
	r.NoMethod(func(c *gin.Context) { s.noMethod(c) })

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(s.metrics.Handler()))

	v1 := r.Group("/api/v1", s.refuseNUL)
	v1.GET("/openapi.json", s.openAPI)
	v1.POST("/auth/login", s.login)

	authed := v1.Group("", s.requireBearer, s.idempotent)
	authed.POST("/auth/logout", s.logout)
	authed.GET("/me", s.me)

	admin := authed.Group("/admin")
	admin.POST("/business-units", s.createBusinessUnit)
	admin.GET("/business-units", s.listBusinessUnits)
	admin.POST("/warehouses", s.createWarehouse)
	admin.GET("/warehouses", s.listWarehouses)
	admin.POST("/centres", s.createCentre)
	admin.GET("/centres", s.listCentres)
	admin.GET("/centres/:code", s.getCentre)
	admin.PATCH("/centres/:code", s.updateCentre)
	admin.POST("/users", s.createUser)
	admin.GET("/users", s.listUsers)
	admin.GET("/users/:id", s.getUser)
	admin.PATCH("/users/:id", s.updateUser)
	admin.DELETE("/users/:id", s.disableUser)
	admin.POST("/api-clients", s.createAPIClient)
	admin.GET("/api-clients", s.listAPIClients)
	admin.DELETE("/api-clients/:id", s.revokeAPIClient)
	admin.GET("/deliveries", s.listDeliveries)
	admin.POST("/deliveries/replay", s.replayDeliveries)
	admin.POST("/deliveries/:id/replay", s.replayDelivery)
	admin.PUT("/test-catalogue/:code", s.saveTest)
	admin.PUT("/corrective-actions/:code", s.saveAction)
	admin.POST("/units", s.registerUnit)
	admin.POST("/units/batch", s.registerUnits)

	csm := authed.Group("/csm")
	csm.POST("/tickets", s.referTicket)
	csm.POST("/tickets/:ticket_number/cancel", s.cancelTicket)
	csm.POST("/tickets/:ticket_number/closed", s.closedTicket)
	csm.GET("/events", s.listEvents)
	csm.POST("/service-changes/:swap_id", s.serviceChange)

	authed.GET("/tickets", s.searchTickets)
	authed.GET("/tickets/:ticket_number", s.getTicket)
	authed.GET("/audit", s.listAudit)

	authed.GET("/centres/:code/availability", s.availability)
	authed.GET("/centres/:code/agenda", s.agenda)
	authed.POST("/appointments", s.bookAppointment)
	authed.GET("/appointments/:id", s.getAppointment)
	authed.POST("/appointments/:id/reschedule", s.rescheduleAppointment)
	authed.POST("/appointments/:id/cancel", s.cancelAppointment)
	authed.POST("/appointments/:id/no-show", s.noShow)
	authed.POST("/appointments/:id/check-in", s.checkIn)
	authed.POST("/tickets/:ticket_number/walk-in", s.walkIn)

	authed.GET("/test-catalogue", s.listTestCatalogue)
	authed.GET("/corrective-actions", s.listActionCatalogue)
	authed.GET("/repairs/:id", s.getRepair)
	authed.PATCH("/repairs/:id", s.updateRepair)
	authed.PUT("/repairs/:id/tests", s.recordTests)
	authed.POST("/repairs/:id/certify", s.certify)
	// :number is "<number>.pdf" here: the path of API.md.
	authed.GET("/certificates/:number", s.certificatePDF)
	authed.POST("/certificates/:number/void", s.voidCertificate)

	authed.GET("/centres/:code/stock", s.stock)
	authed.GET("/units/:imei", s.getUnit)
	authed.POST("/repairs/:id/swap", s.swap)
	authed.GET("/swaps/:id", s.getSwap)
	authed.GET("/swaps/:id/endorsement.pdf", s.endorsementPDF)
	authed.POST("/swaps/:id/retry", s.retrySwap)
	authed.POST("/swaps/:id/undo", s.undoSwap)
	authed.POST("/returns", s.createReturn)
	authed.GET("/returns", s.listReturns)
	authed.GET("/returns/:id", s.getReturn)
	authed.POST("/returns/:id/dispatch", s.dispatchReturn)
	authed.GET("/returns/:id/packing-list.pdf", s.packingListPDF)
	authed.POST("/returns/:id/receive", s.receiveReturn)
	authed.POST("/returns/:id/discrepancies/:discrepancy_id/resolve", s.resolveDiscrepancy)
	authed.POST("/restock-requests", s.requestRestock)
	authed.GET("/restock-requests", s.listRestock)
	authed.GET("/restock-requests/:id", s.getRestock)
	authed.POST("/restock-requests/:id/fulfil", s.fulfilRestock)
	authed.POST("/restock-requests/:id/receive", s.receiveRestock)
	authed.POST("/restock-requests/:id/reject", s.rejectRestock)

	s.webRoutes(r)
	return r
}

func (s *Server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

func (s *Server) readyz(c *gin.Context) {
	if s.draining.Load() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "draining"})
		return
	}
	if err := s.readiness.Ready(c.Request.Context()); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not ready", "reason": err.Error()})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
