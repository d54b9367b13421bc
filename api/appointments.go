package api

import (
	"net/http"

	"centros/models"

	"github.com/gin-gonic/gin"
)

type availabilityQuery struct {
	From         string `form:"from" validate:"required,date"`
	To           string `form:"to" validate:"required,date"`
	TicketNumber string `form:"ticket_number" validate:"omitempty,ticket_number"`
}

func (s *Server) availability(c *gin.Context) {
	q := availabilityQuery{From: c.Query("from"), To: c.Query("to"), TicketNumber: c.Query("ticket_number")}
	if err := s.validate(q); err != nil {
		s.problem(c, err)
		return
	}
	a, err := s.appointments.Availability(c.Request.Context(), principal(c), c.Param("code"), q.From, q.To, q.TicketNumber)
	s.respond(c, http.StatusOK, a, err)
}

type agendaQuery struct {
	Date string `form:"date" validate:"required,date"`
}

func (s *Server) agenda(c *gin.Context) {
	q := agendaQuery{Date: c.Query("date")}
	if err := s.validate(q); err != nil {
		s.problem(c, err)
		return
	}
	items, err := s.appointments.Agenda(c.Request.Context(), principal(c), c.Param("code"), q.Date)
	s.respond(c, http.StatusOK, gin.H{"centre_code": c.Param("code"), "date": q.Date, "items": nonNil(items)}, err)
}

func (s *Server) bookAppointment(c *gin.Context) {
	var in models.BookInput
	if !s.bindJSON(c, &in) {
		return
	}
	a, err := s.appointments.Book(c.Request.Context(), principal(c), in)
	s.respond(c, http.StatusCreated, a, err)
}

func (s *Server) getAppointment(c *gin.Context) {
	a, err := s.appointments.Get(c.Request.Context(), principal(c), c.Param("id"))
	s.respond(c, http.StatusOK, a, err)
}

func (s *Server) rescheduleAppointment(c *gin.Context) {
	var in models.RescheduleInput
	if !s.bindVersioned(c, &in, &in.Version) {
		return
	}
	a, err := s.appointments.Reschedule(c.Request.Context(), principal(c), c.Param("id"), in)
	s.respond(c, http.StatusOK, a, err)
}

func (s *Server) cancelAppointment(c *gin.Context) {
	var in models.ReasonInput
	if !s.bindJSON(c, &in) {
		return
	}
	a, err := s.appointments.Cancel(c.Request.Context(), principal(c), c.Param("id"), in.Reason)
	s.respond(c, http.StatusOK, a, err)
}

func (s *Server) noShow(c *gin.Context) {
	a, err := s.appointments.NoShow(c.Request.Context(), principal(c), c.Param("id"))
	s.respond(c, http.StatusOK, a, err)
}

func (s *Server) checkIn(c *gin.Context) {
	var in models.CheckInInput
	if !s.bindJSON(c, &in) {
		return
	}
	a, err := s.appointments.CheckIn(c.Request.Context(), principal(c), c.Param("id"), in)
	s.respond(c, http.StatusCreated, a, err)
}

func (s *Server) walkIn(c *gin.Context) {
	var in models.CheckInInput
	if !s.bindJSON(c, &in) {
		return
	}
	a, err := s.appointments.WalkIn(c.Request.Context(), principal(c), c.Param("ticket_number"), in)
	s.respond(c, http.StatusCreated, a, err)
}
