package main

import "context"

// demoDocuments give a new database something to show, for two organizations so
// tenant isolation can be seen at work. DOCUMENTS_SEED=false skips them.
var demoDocuments = []struct {
	org   string
	title string
	body  string
}{
	{"org_demo_acme", "Acme onboarding checklist", "Welcome to Acme! Set up your laptop, join #general, and meet your buddy in week one."},
	{"org_demo_acme", "Acme Q3 roadmap", "Ship the rocket-powered roller skates; retire the giant magnet."},
	{"org_demo_acme", "Acme expense policy", "Anvils over 50 kg need a manager's approval."},
	{"org_demo_globex", "Globex security handbook", "Badges are always worn. Report tailgating to security."},
	{"org_demo_globex", "Globex hammock district plans", "Phase two adds forty hammocks near the cafeteria."},
}

func seedDemo(ctx context.Context, s Store) error {
	for _, d := range demoDocuments {
		if _, err := s.Create(ctx, d.org, Document{Title: d.title, Body: d.body, CreatedBy: "seed"}); err != nil {
			return err
		}
	}
	return nil
}
