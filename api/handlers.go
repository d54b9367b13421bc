package api

import (
	"net/http"
	"strconv"
	"strings"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
)

type loginRequest struct {
	Email    string `json:"email" validate:"required,max=254"`
	Password string `json:"password" validate:"required,max=200"`
}

type userView struct {
	ID            string      `json:"id"`
	Email         string      `json:"email"`
	Name          string      `json:"name"`
	Role          models.Role `json:"role"`
	CentreCode    string      `json:"centre_code,omitempty"`
	WarehouseCode string      `json:"warehouse_code,omitempty"`
}

func viewOfPrincipal(p models.Principal) userView {
	id := p.UserID
	if id == "" {
		id = p.APIClientID
	}
	return userView{ID: id, Email: p.Email, Name: p.Name, Role: p.Role, CentreCode: p.CentreCode, WarehouseCode: p.WarehouseCode}
}

func (s *Server) login(c *gin.Context) {
	var in loginRequest
	if !s.bindJSON(c, &in) {
		return
	}
	res, err := s.auth.Login(c.Request.Context(), in.Email, in.Password, c.ClientIP(), services.TokenBearer)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"token": res.Token, "expires_at": res.ExpiresAt, "user": viewOfPrincipal(res.User)})
}

func (s *Server) logout(c *gin.Context) {
	s.respond(c, http.StatusNoContent, nil, s.auth.Logout(c.Request.Context(), principal(c)))
}

func (s *Server) me(c *gin.Context) {
	p := principal(c)
	c.JSON(http.StatusOK, gin.H{"user": viewOfPrincipal(p), "expires_at": p.ExpiresAt})
}

func (s *Server) createBusinessUnit(c *gin.Context) {
	var in models.BusinessUnitInput
	if !s.bindJSON(c, &in) {
		return
	}
	bu, err := s.admin.CreateBusinessUnit(c.Request.Context(), principal(c), in)
	s.respond(c, http.StatusCreated, bu, err)
}

func (s *Server) listBusinessUnits(c *gin.Context) {
	items, err := s.admin.ListBusinessUnits(c.Request.Context(), principal(c))
	s.respond(c, http.StatusOK, list(items), err)
}

func (s *Server) createWarehouse(c *gin.Context) {
	var in models.WarehouseInput
	if !s.bindJSON(c, &in) {
		return
	}
	w, err := s.admin.CreateWarehouse(c.Request.Context(), principal(c), in)
	s.respond(c, http.StatusCreated, w, err)
}

func (s *Server) listWarehouses(c *gin.Context) {
	items, err := s.admin.ListWarehouses(c.Request.Context(), principal(c))
	s.respond(c, http.StatusOK, list(items), err)
}

func (s *Server) createCentre(c *gin.Context) {
	var in models.CentreInput
	if !s.bindJSON(c, &in) {
		return
	}
	centre, err := s.admin.CreateCentre(c.Request.Context(), principal(c), in)
	s.respond(c, http.StatusCreated, centre, err)
}

func (s *Server) listCentres(c *gin.Context) {
	items, err := s.admin.ListCentres(c.Request.Context(), principal(c))
	s.respond(c, http.StatusOK, list(items), err)
}

func (s *Server) getCentre(c *gin.Context) {
	centre, err := s.admin.GetCentre(c.Request.Context(), principal(c), c.Param("code"))
	s.respond(c, http.StatusOK, centre, err)
}

func (s *Server) updateCentre(c *gin.Context) {
	var in models.CentreUpdate
	if !s.bindVersioned(c, &in, &in.Version) {
		return
	}
	centre, err := s.admin.UpdateCentre(c.Request.Context(), principal(c), c.Param("code"), in)
	s.respond(c, http.StatusOK, centre, err)
}

func (s *Server) createUser(c *gin.Context) {
	var in models.UserInput
	if !s.bindJSON(c, &in) {
		return
	}
	u, err := s.admin.CreateUser(c.Request.Context(), principal(c), in)
	s.respond(c, http.StatusCreated, u, err)
}

func (s *Server) listUsers(c *gin.Context) {
	items, err := s.admin.ListUsers(c.Request.Context(), principal(c))
	s.respond(c, http.StatusOK, list(items), err)
}

func (s *Server) getUser(c *gin.Context) {
	u, err := s.admin.GetUser(c.Request.Context(), principal(c), c.Param("id"))
	s.respond(c, http.StatusOK, u, err)
}

func (s *Server) updateUser(c *gin.Context) {
	var in models.UserUpdate
	if !s.bindVersioned(c, &in, &in.Version) {
		return
	}
	u, err := s.admin.UpdateUser(c.Request.Context(), principal(c), c.Param("id"), in)
	s.respond(c, http.StatusOK, u, err)
}

func (s *Server) disableUser(c *gin.Context) {
	s.respond(c, http.StatusNoContent, nil, s.admin.DisableUser(c.Request.Context(), principal(c), c.Param("id")))
}

func (s *Server) createAPIClient(c *gin.Context) {
	var in models.APIClientInput
	if !s.bindJSON(c, &in) {
		return
	}
	client, err := s.admin.CreateAPIClient(c.Request.Context(), principal(c), in)
	s.respond(c, http.StatusCreated, client, err)
}

func (s *Server) listAPIClients(c *gin.Context) {
	items, err := s.admin.ListAPIClients(c.Request.Context(), principal(c))
	s.respond(c, http.StatusOK, list(items), err)
}

func (s *Server) revokeAPIClient(c *gin.Context) {
	s.respond(c, http.StatusNoContent, nil, s.admin.RevokeAPIClient(c.Request.Context(), principal(c), c.Param("id")))
}

func (s *Server) referTicket(c *gin.Context) {
	var in models.Referral
	if !s.bindJSON(c, &in) {
		return
	}
	t, created, err := s.tickets.Refer(c.Request.Context(), principal(c), in)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.respond(c, status, t, err)
}

func (s *Server) cancelTicket(c *gin.Context) {
	var in models.CancelInput
	if !s.bindJSON(c, &in) {
		return
	}
	t, err := s.tickets.Cancel(c.Request.Context(), principal(c), c.Param("ticket_number"), in.Reason)
	s.respond(c, http.StatusOK, t, err)
}

func (s *Server) closedTicket(c *gin.Context) {
	var in models.ClosedInput
	if !s.bindJSON(c, &in) {
		return
	}
	t, err := s.tickets.AcknowledgeClosed(c.Request.Context(), principal(c), c.Param("ticket_number"), in)
	s.respond(c, http.StatusOK, t, err)
}

func (s *Server) getTicket(c *gin.Context) {
	t, err := s.tickets.Get(c.Request.Context(), principal(c), c.Param("ticket_number"))
	s.respond(c, http.StatusOK, t, err)
}

func (s *Server) searchTickets(c *gin.Context) {
	f := models.TicketFilter{CentreCode: c.Query("centre_code"), Status: c.Query("status"), SLAState: c.Query("sla_state")}
	page, err := s.page(c)
	if err == nil {
		err = s.validate(f)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	items, next, err := s.tickets.Search(c.Request.Context(), principal(c), f, page)
	s.respond(c, http.StatusOK, gin.H{"items": nonNil(items), "next_cursor": next}, err)
}

func (s *Server) listEvents(c *gin.Context) {
	page, err := s.page(c)
	var after int
	if err == nil {
		after, err = queryInt(c, "after", 0)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	items, next, err := s.events.List(c.Request.Context(), principal(c), int64(after), page)
	s.respond(c, http.StatusOK, gin.H{"items": nonNil(items), "next_cursor": strconv.FormatInt(next, 10)}, err)
}

type auditQuery struct {
	Entity   string `form:"entity" validate:"max=50"`
	EntityID string `form:"entity_id" validate:"max=100"`
}

func (s *Server) listAudit(c *gin.Context) {
	q := auditQuery{Entity: c.Query("entity"), EntityID: c.Query("entity_id")}
	page, err := s.page(c)
	if err == nil {
		err = s.validate(q)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	items, next, err := s.audit.List(c.Request.Context(), principal(c), q.Entity, q.EntityID, page)
	s.respond(c, http.StatusOK, gin.H{"items": nonNil(items), "next_cursor": next}, err)
}

// page reads ?limit= and ?cursor=.
func (s *Server) page(c *gin.Context) (services.Page, error) {
	limit, err := queryInt(c, "limit", services.DefaultLimit)
	if err != nil {
		return services.Page{}, err
	}
	if limit < 1 || limit > services.MaxLimit {
		return services.Page{}, models.Invalid(models.FieldError{Field: "limit", Rule: "range", Message: "must be from 1 to 500"})
	}
	return services.Page{Limit: limit, Cursor: c.Query("cursor")}, nil
}

// bindVersioned binds an edit whose version may come in the body or as If-Match.
func (s *Server) bindVersioned(c *gin.Context, v any, version **int) bool {
	if err := decodeJSON(c.Request.Body, v); err != nil {
		s.problem(c, err)
		return false
	}
	if m := strings.Trim(c.GetHeader("If-Match"), `"W/`); m != "" && *version == nil {
		n, err := strconv.Atoi(m)
		if err != nil {
			s.problem(c, models.Invalid(models.FieldError{Field: "If-Match", Rule: "version", Message: `must be the record's version, as "3"`}))
			return false
		}
		*version = &n
	}
	if err := s.validate(v); err != nil {
		s.problem(c, err)
		return false
	}
	return true
}

func list[T any](items []T) gin.H { return gin.H{"items": nonNil(items), "next_cursor": ""} }

func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}
