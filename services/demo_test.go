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
	demo := services.NewDemo(e.deps, e.admin, e.tickets, services.NewInventory(e.deps))
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
	// the backup pool, one SM-A155M short of CCS-01's minimum
	st, err := services.NewInventory(e.deps).Stock(ctx, models.System, "CCS-01")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Backup) != 2 || st.Backup[1].Model != "SM-A155M" || st.Backup[1].InStock != 4 || st.Backup[1].Shortfall != 1 {
		t.Fatalf("demo stock %+v", st.Backup)
	}
	if n := e.count(t, "SELECT count(*) FROM inventory_units WHERE warehouse_id IS NOT NULL"); n != 10 {
		t.Fatalf("%d units at the warehouse", n)
	}
}
