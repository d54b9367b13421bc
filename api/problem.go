package api

import (
	"errors"
	"net/http"
	"strconv"

	"centros/models"

	"github.com/gin-gonic/gin"
)

// Problem is an RFC 9457 problem document with our stable machine code.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Code      string              `json:"code"`
	Instance  string              `json:"instance,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []models.FieldError `json:"errors,omitempty"`
}

// statusOf is the one table from error kinds to HTTP statuses.
var statusOf = map[models.ErrorKind]int{
	models.KindInvalid:         http.StatusBadRequest,
	models.KindUnauthenticated: http.StatusUnauthorized,
	models.KindForbidden:       http.StatusForbidden,
	models.KindNotFound:        http.StatusNotFound,
	models.KindConflict:        http.StatusConflict,
	models.KindUnprocessable:   http.StatusUnprocessableEntity,
	models.KindTooManyRequests: http.StatusTooManyRequests,
	models.KindTooLarge:        http.StatusRequestEntityTooLarge,
	models.KindInternal:        http.StatusInternalServerError,
}

// problem writes err as problem JSON. Errors without a kind are bugs: they are logged
// with the request id and the client learns only that id.
func (s *Server) problem(c *gin.Context, err error) {
	e, ok := models.AsError(err)
	if !ok {
		if errors.Is(err, c.Request.Context().Err()) && c.Request.Context().Err() != nil {
			// The client went away; nobody is left to answer.
			c.Abort()
			return
		}
		s.log.ErrorContext(c.Request.Context(), "internal error", "err", err, "request_id", requestID(c), "route", c.FullPath())
		e = models.Errorf(models.KindInternal, "internal", "something went wrong on our side; quote the request id if you report it")
	}
	status := statusOf[e.Kind]
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="centros"`)
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(status, Problem{
		Type:      "/problems/" + e.Code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    e.Message,
		Code:      e.Code,
		Instance:  c.Request.URL.Path,
		RequestID: requestID(c),
		Errors:    e.Fields,
	})
}

// respond writes body with status, or the problem if err is set.
func (s *Server) respond(c *gin.Context, status int, body any, err error) {
	if err != nil {
		s.problem(c, err)
		return
	}
	if body == nil {
		c.Status(status)
		return
	}
	c.JSON(status, body)
}
