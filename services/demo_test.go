package services_test

import (
	"context"
	"testing"

	"centros/models"
	"centros/services"
)

func TestDemoSeedsOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	demo := services.NewDemo(e.deps, e.admin, e.tickets)
	first, err := demo.Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Seeded || first.CSMToken == "" {
		t.Fatalf("first seed: %+v", first)
	}
	again, err := demo.Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Seeded {
		t.Fatal("second seed seeded again")
	}
	items, _, err := e.tickets.Search(ctx, models.Principal{Role: models.RoleAdmin}, models.TicketFilter{}, services.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 20 {
		t.Fatalf("demo tickets: got %d, want 20", len(items))
	}
}
