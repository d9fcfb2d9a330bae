package main

import (
	"bytes"
	"os"
	"testing"
)

// The committed Python descriptors must match the Go ones, or the Python SDK
// speaks an older protocol than the host.
func TestDescriptorsAreCurrent(t *testing.T) {
	want, err := render()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../mcphost_sdk/_descriptors.py")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("sdk/python/mcphost_sdk/_descriptors.py is stale; run make py-descriptors and commit it")
	}
}
