package devauthz

import (
	"html/template"
	"net/http"
	"strings"
)

var loginTemplate = template.Must(template.New("login").Funcs(template.FuncMap{
	"join": func(s []string) string { return strings.Join(s, ", ") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcphost dev sign-in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}
.note{background:#fff4d6;border:1px solid #e8c66b;padding:.6rem .8rem;border-radius:6px;font-size:.9rem}
button.user{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.7rem .9rem;border:1px solid #bbb;border-radius:6px;background:#fafafa;cursor:pointer;font-size:1rem}
button.user:hover{background:#eef4ff;border-color:#6b8fe8}
.meta{color:#555;font-size:.85rem}
button.deny{margin-top:1rem;background:none;border:none;color:#a33;cursor:pointer;text-decoration:underline}
</style></head><body>
<h1>Sign in to mcphost (dev)</h1>
<p class="note">This is the development authorization server of <code>mcphost dev</code>: no passwords, pick a demo user. Tokens are signed by the local dev key and are valid only on this server.</p>
<p><strong>{{.Client}}</strong> asks to use <code>{{.Resource}}</code>{{if .Scopes}} with scopes <code>{{.Scopes}}</code>{{end}}.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Request}}">
{{range .Users}}<button class="user" type="submit" name="user" value="{{.ID}}" data-user="{{.ID}}">
<strong>{{if .Name}}{{.Name}}{{else}}{{.ID}}{{end}}</strong> <span class="meta">{{.ID}}{{if .Email}} · {{.Email}}{{end}}</span><br>
<span class="meta">organization {{if .Org}}{{.Org}}{{else}}none{{end}} · roles {{if .Roles}}{{join .Roles}}{{else}}none{{end}}{{if .Permissions}} · permissions {{join .Permissions}}{{end}}</span>
</button>{{end}}
<button class="deny" type="submit" name="deny" value="1">Deny access</button>
</form></body></html>
`))

var errorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcphost dev sign-in: error</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto">
<h1>This sign-in request cannot continue</h1><p id="error">{{.}}</p></body></html>
`))

func (s *Server) loginPage(w http.ResponseWriter, requestID string, req *authRequest) {
	name := req.ClientName
	if name == "" {
		name = req.ClientID
	}
	securityHeaders(w)
	_ = loginTemplate.Execute(w, map[string]any{
		"Client": name, "Resource": req.Resource, "Scopes": strings.Join(req.Scopes, " "),
		"Action": AuthorizePath, "Request": requestID, "Users": s.cfg.Users,
	})
}

func (s *Server) errorPage(w http.ResponseWriter, status int, msg string) {
	securityHeaders(w)
	w.WriteHeader(status)
	_ = errorTemplate.Execute(w, msg)
}

// securityHeaders keep the pages out of frames (clickjacking a one-click
// sign-in) and from running scripts. No form-action: browsers apply it to the
// redirect after the form, which goes to the client's redirect_uri.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
}
