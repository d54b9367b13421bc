package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
)

// The deliveries screen: the admin's view of the callbacks to CSM by delivery status,
// each event with its attempts, and replay of one event or of every dead one shown,
// over the same service methods as the JSON admin API.

const tplDeliveries = "deliveries.html"

// deliveryTabs are the delivery states, in the order of the screen's tabs; the first
// is shown when none is asked for.
var deliveryTabs = []models.DeliveryStatus{models.DeliveryPending, models.DeliveryFailed, models.DeliveryDead, models.DeliveryDelivered}

// deliveryListLimit is how many events a page of the screen shows.
const deliveryListLimit = 50

func (s *Server) webDeliveryRoutes(admin *gin.RouterGroup) {
	admin.GET("/deliveries", s.webDeliveries)
	admin.POST("/deliveries/replay", s.webReplayDeliveries)
	admin.POST("/deliveries/:id/replay", s.webReplayDelivery)
}

func deliveriesPath(status models.DeliveryStatus) string {
	return "/admin/deliveries?status=" + url.QueryEscape(string(status))
}

// deliveryStatusOf reads a tab's status; "" is the first tab.
func deliveryStatusOf(v string) (models.DeliveryStatus, error) {
	if v == "" {
		return deliveryTabs[0], nil
	}
	if st := models.DeliveryStatus(v); slices.Contains(deliveryTabs, st) {
		return st, nil
	}
	return "", models.Invalid(models.FieldError{Field: "status", Rule: "oneof", Message: "must be one of: pending, failed, dead, delivered"})
}

// deliveryTab is one tab of the screen.
type deliveryTab struct {
	Label   string
	URL     string
	Current bool
}

// deliveryAttemptRow is one attempt as the attempt log shows it.
type deliveryAttemptRow struct {
	At, ISO, Answer, Latency, Error string
	OK                              bool
}

// deliveryRow is one event in the list.
type deliveryRow struct {
	ID, Type, Ticket, TicketURL       string
	Sequence                          int64
	Status, StatusLabel, StatusClass  string
	Attempts                          int
	LastError, NextAttempt, Delivered string
	Log                               []deliveryAttemptRow
	ReplayURL                         string
	MayReplay, ConfirmReplay          bool
}

// deliveriesPage is the data of the deliveries screen.
type deliveriesPage struct {
	Status            string
	StatusLabel       string
	Tabs              []deliveryTab
	Items             []deliveryRow
	DeadIDs           []string
	NextURL, FirstURL string
	TimeZone          string
}

// deliveryStatusClass picks the badge colours of a state from the shared palette.
var deliveryStatusClass = map[models.DeliveryStatus]string{
	models.DeliveryPending:   "status",
	models.DeliveryFailed:    "sla-at_risk",
	models.DeliveryDead:      "sla-late",
	models.DeliveryDelivered: "sla-on_time",
}

// webDeliveries lists the events in one delivery state.
func (s *Server) webDeliveries(c *gin.Context) {
	lang := webLang(c)
	status, err := deliveryStatusOf(c.Query("status"))
	if err != nil {
		s.webError(c, err)
		return
	}
	cursor := c.Query("cursor")
	items, next, err := s.deliveries.List(c.Request.Context(), principal(c), string(status),
		services.Page{Limit: deliveryListLimit, Cursor: cursor})
	if err != nil {
		s.webError(c, err)
		return
	}
	loc, err := time.LoadLocation(models.DefaultTimeZone)
	if err != nil {
		s.webError(c, err)
		return
	}
	now := s.now()
	d := deliveriesPage{Status: string(status), StatusLabel: tr(lang, "delivery.tab."+string(status)), TimeZone: models.DefaultTimeZone}
	for _, st := range deliveryTabs {
		d.Tabs = append(d.Tabs, deliveryTab{Label: tr(lang, "delivery.tab."+string(st)), URL: deliveriesPath(st), Current: st == status})
	}
	for _, dl := range items {
		row := deliveryRow{ID: dl.ID, Type: string(dl.Type), Ticket: dl.TicketNumber, TicketURL: ticketPath(dl.TicketNumber),
			Sequence: dl.Sequence, Status: string(dl.DeliveryStatus), StatusLabel: tr(lang, "delivery."+string(dl.DeliveryStatus)),
			StatusClass: deliveryStatusClass[dl.DeliveryStatus], Attempts: dl.Attempts,
			ReplayURL: "/admin/deliveries/" + url.PathEscape(dl.ID) + "/replay",
			// A pending event is already queued; the rest may be sent again.
			MayReplay:     dl.DeliveryStatus != models.DeliveryPending,
			ConfirmReplay: dl.DeliveryStatus == models.DeliveryDelivered}
		if dl.LastError != nil && dl.DeliveryStatus != models.DeliveryDelivered {
			row.LastError = *dl.LastError
		}
		switch dl.DeliveryStatus {
		case models.DeliveryPending, models.DeliveryFailed:
			if dl.NextAttemptAt.After(now) {
				row.NextAttempt = deliveryTime(lang, dl.NextAttemptAt, loc)
			} else {
				row.NextAttempt = tr(lang, "deliveries.due_now")
			}
		case models.DeliveryDelivered:
			if dl.DeliveredAt != nil {
				row.Delivered = deliveryTime(lang, *dl.DeliveredAt, loc)
			}
		case models.DeliveryDead:
			d.DeadIDs = append(d.DeadIDs, dl.ID)
		}
		for _, a := range dl.AttemptLog {
			ar := deliveryAttemptRow{At: deliveryTime(lang, a.AttemptedAt, loc), ISO: a.AttemptedAt.UTC().Format(time.RFC3339Nano),
				Answer: tr(lang, "deliveries.no_answer"), Latency: fmt.Sprintf("%d ms", a.LatencyMS)}
			if a.StatusCode != nil {
				ar.Answer = "HTTP " + strconv.Itoa(*a.StatusCode)
				ar.OK = *a.StatusCode >= 200 && *a.StatusCode < 300
			}
			if a.Error != nil && a.StatusCode == nil { // with a status, the error only repeats it
				ar.Error = *a.Error
			}
			row.Log = append(row.Log, ar)
		}
		d.Items = append(d.Items, row)
	}
	if next != "" {
		d.NextURL = deliveriesPath(status) + "&cursor=" + url.QueryEscape(next)
	}
	if cursor != "" {
		d.FirstURL = deliveriesPath(status)
	}
	s.render(c, http.StatusOK, tplDeliveries, &pageData{Title: tr(lang, "deliveries.title"), Data: d})
}

// deliveryTime shows an attempt's time to the second, retries being seconds apart.
func deliveryTime(lang string, t time.Time, loc *time.Location) string {
	lt := t.In(loc)
	if lang == langEN {
		return lt.Format("2006-01-02 15:04:05")
	}
	return lt.Format("02/01/2006 15:04:05")
}

// replayBack is the tab a replay form came from.
func replayBack(c *gin.Context) string {
	st, err := deliveryStatusOf(c.PostForm("status"))
	if err != nil {
		st = deliveryTabs[0]
	}
	return deliveriesPath(st)
}

// webReplayDelivery sends one event again with its webhook-id.
func (s *Server) webReplayDelivery(c *gin.Context) {
	id := c.Param("id")
	if _, err := s.deliveries.Replay(c.Request.Context(), principal(c), []string{id}); err != nil {
		s.webError(c, err)
		return
	}
	s.setFlash(c, "flash.replayed_one", id)
	c.Redirect(http.StatusSeeOther, replayBack(c))
}

// webReplayDeliveries sends again every event the form lists: the dead ones shown.
func (s *Server) webReplayDeliveries(c *gin.Context) {
	ids := c.PostFormArray("id")
	switch {
	case len(ids) == 0:
		s.webError(c, models.Invalid(models.FieldError{Field: "id", Rule: "required", Message: "is required"}))
		return
	case len(ids) > services.MaxLimit:
		s.webError(c, models.Invalid(models.FieldError{Field: "id", Rule: "max", Message: "must have at most 500 items"}))
		return
	}
	for _, id := range ids {
		if id == "" || len(id) > 40 || !plainText(id) {
			s.webError(c, models.NotFound("event"))
			return
		}
	}
	n, err := s.deliveries.Replay(c.Request.Context(), principal(c), ids)
	if err != nil {
		s.webError(c, err)
		return
	}
	s.setFlash(c, "flash.replayed", strconv.Itoa(n))
	c.Redirect(http.StatusSeeOther, replayBack(c))
}
