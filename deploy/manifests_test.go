// Package deploy checks the Kubernetes manifests under kubernetes/ without a
// cluster: each document decodes strictly into its Kubernetes API type, and
// the manifests agree with each other, with the mcphost.yaml they carry and
// with the Dockerfile (ports, probe paths, mounts, secret keys, plugin paths).
// It is its own module so the product does not depend on k8s.io.
package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/mcphost/mcphost/config"
)

type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	pdbs        map[string]*policyv1.PodDisruptionBudget
}

// load decodes every document of every file, refusing unknown fields.
func load(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{map[string]*appsv1.Deployment{}, map[string]*corev1.Service{}, map[string]*corev1.ConfigMap{}, map[string]*corev1.Secret{}, map[string]*policyv1.PodDisruptionBudget{}}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests in kubernetes/")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(raw, []byte("\n---\n")) {
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s #%d: %v", f, i, err)
			}
			var obj interface{ GetName() string }
			switch head.APIVersion + " " + head.Kind {
			case "apps/v1 Deployment":
				d := &appsv1.Deployment{}
				obj, m.deployments[name(t, f, doc)] = d, d
			case "v1 Service":
				s := &corev1.Service{}
				obj, m.services[name(t, f, doc)] = s, s
			case "v1 ConfigMap":
				c := &corev1.ConfigMap{}
				obj, m.configMaps[name(t, f, doc)] = c, c
			case "v1 Secret":
				s := &corev1.Secret{}
				obj, m.secrets[name(t, f, doc)] = s, s
			case "policy/v1 PodDisruptionBudget":
				p := &policyv1.PodDisruptionBudget{}
				obj, m.pdbs[name(t, f, doc)] = p, p
			default:
				t.Fatalf("%s #%d: unexpected %s %s", f, i, head.APIVersion, head.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s #%d (%s): %v", f, i, head.Kind, err)
			}
		}
	}
	return m
}

func name(t *testing.T, file string, doc []byte) string {
	var meta struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil || meta.Metadata.Name == "" {
		t.Fatalf("%s: a document without metadata.name", file)
	}
	return meta.Metadata.Name
}

// mcphostConfig loads the ConfigMap's mcphost.yaml with mcphost's own loader,
// the state secret file holding secret.
func mcphostConfig(t *testing.T, m *manifests, secret string) (*config.Config, error) {
	t.Helper()
	cm := m.configMaps["mcphost-config"]
	if cm == nil {
		t.Fatal("no ConfigMap mcphost-config")
	}
	text := cm.Data["mcphost.yaml"]
	dir := t.TempDir()
	secretPath := filepath.Join(dir, "state-secret")
	if err := os.WriteFile(secretPath, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	text = strings.Replace(text, "/etc/mcphost/secret/state-secret", secretPath, 1)
	path := filepath.Join(dir, "mcphost.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WORKOS_API_KEY": "sk_test_x"}
	return config.Load(path, config.Options{SkipFileChecks: true, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
}

func TestManifestsAgree(t *testing.T) {
	m := load(t)
	cfg, err := mcphostConfig(t, m, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatalf("the ConfigMap's mcphost.yaml does not load: %v", err)
	}
	d := m.deployments["mcphost"]
	if d == nil || d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Fatalf("Deployment mcphost with 3 replicas: %+v", d)
	}
	pod := d.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]

	// The listen port is the container port the probes and the Service use.
	_, port, _ := strings.Cut(cfg.Server.Listen, ":")
	if len(c.Ports) != 1 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != port || c.Ports[0].Name != "http" {
		t.Errorf("container ports %+v, server.listen %s", c.Ports, cfg.Server.Listen)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != "http" {
		t.Errorf("readiness probe %+v, want GET /readyz on http", p)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "http" {
		t.Errorf("liveness probe %+v, want GET /healthz on http", p)
	}
	svc := m.services["mcphost"]
	if svc == nil || svc.Spec.Ports[0].TargetPort.String() != "http" || !sameLabels(svc.Spec.Selector, pod.Labels) {
		t.Errorf("Service mcphost %+v does not reach the pods", svc)
	}
	pdb := m.pdbs["mcphost"]
	if pdb == nil || !sameLabels(pdb.Spec.Selector.MatchLabels, pod.Labels) || pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("PodDisruptionBudget %+v", pdb)
	}

	// Mounts: the config where --config reads it, the secret file where
	// server.state_secret_file points, data_dir writable.
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	if got := strings.Join(c.Args, " "); got != "serve --config "+mounts["config"].MountPath {
		t.Errorf("args %q, config mounted at %s", got, mounts["config"].MountPath)
	}
	secrets := m.secrets["mcphost-secrets"]
	if secrets == nil {
		t.Fatal("no Secret mcphost-secrets")
	}
	for _, v := range pod.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, item := range v.Secret.Items {
			if _, ok := secrets.StringData[item.Key]; !ok {
				t.Errorf("volume %s uses key %s, not in the Secret", v.Name, item.Key)
			}
			if got := filepath.Join(mounts[v.Name].MountPath, item.Path); got != "/etc/mcphost/secret/state-secret" {
				t.Errorf("secret file at %s, the config reads /etc/mcphost/secret/state-secret", got)
			}
		}
	}
	if mounts["data"].MountPath != filepath.Clean(cfg.DataDir) || mounts["data"].ReadOnly {
		t.Errorf("data mounted at %s (read-only %v), data_dir %s", mounts["data"].MountPath, mounts["data"].ReadOnly, cfg.DataDir)
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		if _, ok := secrets.StringData[e.ValueFrom.SecretKeyRef.Key]; !ok || e.ValueFrom.SecretKeyRef.Name != "mcphost-secrets" {
			t.Errorf("env %s from %s/%s, not in the Secret", e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
		}
	}
	if !hasEnv(c, "WORKOS_API_KEY") {
		t.Error("WORKOS_API_KEY (the workosuser plugin's ${WORKOS_API_KEY}) is not set")
	}

	// SIGTERM: Kubernetes waits longer than mcphost drains.
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= cfg.Server.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %v, server.shutdown_timeout %s", g, cfg.Server.ShutdownTimeout)
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("pods must run as non-root")
	}

	// The plugins are where the Dockerfile puts them.
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range cfg.Plugins {
		if filepath.Dir(p.Path) != "/usr/local/lib/mcphost/plugins" || !bytes.Contains(dockerfile, []byte("/usr/local/lib/mcphost/plugins/")) {
			t.Errorf("plugin %s at %s, not where the Dockerfile installs plugins", name, p.Path)
		}
		if _, err := os.Stat(filepath.Join("../plugins", filepath.Base(p.Path))); err != nil {
			t.Errorf("plugin %s: no ../plugins/%s to build", name, filepath.Base(p.Path))
		}
	}

	// server.store names the quick-start Redis Service.
	redisSvc := m.services["mcphost-redis"]
	if redisSvc == nil || cfg.Server.Store != "redis://mcphost-redis:"+strconv.Itoa(int(redisSvc.Spec.Ports[0].Port))+"/0" {
		t.Errorf("server.store %s and the Redis Service %+v disagree", cfg.Server.Store, redisSvc)
	}
}

// TestPlaceholderSecretRefused: applied unchanged, the Secret's placeholder
// keeps mcphost from starting, rather than running with a known secret.
func TestPlaceholderSecretRefused(t *testing.T) {
	m := load(t)
	placeholder := m.secrets["mcphost-secrets"].StringData["state-secret"]
	_, err := mcphostConfig(t, m, placeholder)
	if err == nil || !strings.Contains(err.Error(), "server.state_secret_file") {
		t.Fatalf("placeholder secret %q: %v, want a refusal naming server.state_secret_file", placeholder, err)
	}
}

func sameLabels(a, b map[string]string) bool {
	if len(a) == 0 {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func hasEnv(c corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}
