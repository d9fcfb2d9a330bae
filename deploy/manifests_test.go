// Package deploy checks the Kubernetes manifests under kubernetes/ without a
// cluster: each document decodes strictly into its Kubernetes API type, and
// the manifests agree with each other, with the mcphost.yaml they carry and
// with the Dockerfile (ports, probe paths, mounts, secret keys, plugin paths).
// It is its own module so the product does not depend on k8s.io.
package deploy

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/internal/testpostgres"
)

type manifests struct {
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	pdbs         map[string]*policyv1.PodDisruptionBudget
}

// load decodes every document of every file, refusing unknown fields.
func load(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{map[string]*appsv1.Deployment{}, map[string]*appsv1.StatefulSet{}, map[string]*corev1.Service{}, map[string]*corev1.ConfigMap{}, map[string]*corev1.Secret{}, map[string]*policyv1.PodDisruptionBudget{}}
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
			case "apps/v1 StatefulSet":
				d := &appsv1.StatefulSet{}
				obj, m.statefulSets[name(t, f, doc)] = d, d
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
	env := containerEnv(t, m, m.deployments["mcphost"].Spec.Template.Spec.Containers[0])
	return config.Load(path, config.Options{SkipFileChecks: true, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
}

// containerEnv resolves a container's environment as the kubelet would: values
// from the Secret mcphost-secrets, and $(NAME) references to variables defined
// earlier in the list.
func containerEnv(t *testing.T, m *manifests, c corev1.Container) map[string]string {
	t.Helper()
	secrets := m.secrets["mcphost-secrets"]
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secrets.StringData[ref.Key]
			if !ok || ref.Name != "mcphost-secrets" {
				t.Errorf("%s: env %s from %s/%s, not in the Secret", c.Name, e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		case e.ValueFrom != nil:
			t.Errorf("%s: env %s from an unexpected source", c.Name, e.Name)
		default:
			env[e.Name] = expandRefs(t, c.Name+": env "+e.Name, e.Value, env)
		}
	}
	return env
}

// expandRefs replaces $(NAME) with env[NAME]; an unknown name is an error here
// (the kubelet would leave it as written, which is never what was meant).
func expandRefs(t *testing.T, what, v string, env map[string]string) string {
	var out strings.Builder
	for {
		i := strings.Index(v, "$(")
		if i < 0 {
			return out.String() + v
		}
		j := strings.Index(v[i:], ")")
		if j < 0 {
			t.Errorf("%s: unterminated $( in %q", what, v)
			return out.String() + v
		}
		name := v[i+2 : i+j]
		val, ok := env[name]
		if !ok {
			t.Errorf("%s: $(%s) is not defined earlier in the container's env", what, name)
		}
		out.WriteString(v[:i] + val)
		v = v[i+j+1:]
	}
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

// TestPostgresQuickStart: the documents plugin's DOCUMENTS_DSN names the
// quick-start Postgres Service, database and role, and the init script, run on
// a real PostgreSQL server with the pod's environment, creates exactly that:
// an ordinary role (row-level security applies to it) that owns the database
// and can create the plugin's tables.
func TestPostgresQuickStart(t *testing.T) {
	m := load(t)
	// Fill the Secret as its comment says: hex passwords.
	for k, v := range map[string]string{"postgres-password": "5b4c3d2e1f00f1e2d3c4b5a697887961", "documents-db-password": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"} {
		if _, ok := m.secrets["mcphost-secrets"].StringData[k]; !ok {
			t.Fatalf("the Secret has no %s", k)
		}
		m.secrets["mcphost-secrets"].StringData[k] = v
	}
	cfg, err := mcphostConfig(t, m, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatalf("the ConfigMap's mcphost.yaml does not load: %v", err)
	}
	docs, ok := cfg.Plugins["documents"]
	if !ok {
		t.Fatal("no documents plugin in the config")
	}
	dsn, err := url.Parse(docs.Env["DOCUMENTS_DSN"])
	if err != nil || dsn.Scheme != "postgres" {
		t.Fatalf("the documents plugin's DOCUMENTS_DSN %q: %v", docs.Env["DOCUMENTS_DSN"], err)
	}
	svc := m.services["mcphost-postgres"]
	set := m.statefulSets["mcphost-postgres"]
	if svc == nil || set == nil {
		t.Fatal("no Service and StatefulSet mcphost-postgres")
	}
	if dsn.Hostname() != svc.Name || dsn.Port() != strconv.Itoa(int(svc.Spec.Ports[0].Port)) || !sameLabels(svc.Spec.Selector, set.Spec.Template.Labels) {
		t.Errorf("DOCUMENTS_DSN host %s, Service %s:%d selecting %v", dsn.Host, svc.Name, svc.Spec.Ports[0].Port, svc.Spec.Selector)
	}
	pg := set.Spec.Template.Spec.Containers[0]
	if sc := set.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the Postgres pod must run as non-root")
	}
	pgEnv := containerEnv(t, m, pg)
	mounts := map[string]string{}
	for _, vm := range pg.VolumeMounts {
		mounts[vm.Name] = vm.MountPath
	}
	if !strings.HasPrefix(pgEnv["PGDATA"], mounts["data"]+"/") || len(set.Spec.VolumeClaimTemplates) != 1 || set.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Errorf("PGDATA %s, data mounted at %s, claims %v", pgEnv["PGDATA"], mounts["data"], set.Spec.VolumeClaimTemplates)
	}
	var script string
	for _, v := range set.Spec.Template.Spec.Volumes {
		if v.Name == "init" && v.ConfigMap != nil && mounts["init"] == "/docker-entrypoint-initdb.d" {
			for _, s := range m.configMaps[v.ConfigMap.Name].Data {
				script += s
			}
		}
	}
	if script == "" {
		t.Fatal("no init script mounted at /docker-entrypoint-initdb.d")
	}

	// The script on an empty server, as the postgres image's entrypoint runs
	// it: as the superuser, with the container's environment.
	srv := testpostgres.Start(t)
	if err := srv.Exec(context.Background(), "DROP ROLE "+testpostgres.AppRole); err != nil { // the image starts with none
		t.Fatal(err)
	}
	super, _ := url.Parse(srv.SuperDSN())
	superPass, _ := super.User.Password()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=" + srv.BinDir + ":/usr/bin:/bin", "PGHOST=" + srv.Host, "PGPORT=" + strconv.Itoa(srv.Port), "PGPASSWORD=" + superPass, "POSTGRES_USER=postgres"}
	for k, v := range pgEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init script: %v\n%s", err, out)
	}

	// The plugin's DSN, pointed at this server.
	dsn.Host = srv.Host + ":" + strconv.Itoa(srv.Port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn.String())
	if err != nil {
		t.Fatalf("connect with DOCUMENTS_DSN: %v", err)
	}
	defer conn.Close(ctx)
	var isSuper, bypass bool
	var owner string
	if err := conn.QueryRow(ctx, `SELECT r.rolsuper, r.rolbypassrls, pg_get_userbyid(d.datdba)
		FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()`).Scan(&isSuper, &bypass, &owner); err != nil {
		t.Fatal(err)
	}
	if isSuper || bypass || owner != dsn.User.Username() {
		t.Errorf("role %s: superuser %v, bypassrls %v; database owned by %s", dsn.User.Username(), isSuper, bypass, owner)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE migrations_probe (id int)"); err != nil {
		t.Errorf("the plugin's role cannot create its tables: %v", err)
	}
}
