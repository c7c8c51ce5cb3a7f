package lambda

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The credentials, time, region and service of AWS's published SigV4 test
// suite (aws-sig-v4-test-suite).
var (
	suiteCreds = Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	suiteTime  = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
)

func TestSigV4SuiteVectors(t *testing.T) {
	const prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="
	for _, tc := range []struct{ name, url, sig string }{
		{"get-vanilla", "https://example.amazonaws.com/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", "https://example.amazonaws.com/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.url, nil)
			s := &SigV4{Credentials: suiteCreds, Region: "us-east-1", Service: "service"}
			if err := s.sign(req, nil, suiteTime); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != prefix+tc.sig {
				t.Errorf("Authorization\n got %s\nwant %s", got, prefix+tc.sig)
			}
			if got := req.Header.Get("X-Amz-Date"); got != "20150830T123600Z" {
				t.Errorf("X-Amz-Date %q", got)
			}
		})
	}
}

// TestSigV4RoundTrip sends a signed POST through a real server and checks
// what arrives: the body intact, the token and the signed header list.
func TestSigV4RoundTrip(t *testing.T) {
	type seen struct {
		auth, token, body string
		length            int64
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token"), string(b), r.ContentLength}
	}))
	defer srv.Close()
	creds := suiteCreds
	creds.SessionToken = "session-token"
	client := &http.Client{Transport: &SigV4{Credentials: creds, Region: "eu-west-1", Service: "lambda", Now: func() time.Time { return suiteTime }}}
	body := `{"kind":"query","tenant":"tenant-financial"}`
	req, _ := http.NewRequest("POST", srv.URL+"/querier/shard?a=b%20c", strings.NewReader(body))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: the request never reached the handler", resp.StatusCode)
	}
	s := <-got
	if s.body != body || s.length != int64(len(body)) || s.token != "session-token" {
		t.Errorf("server saw %+v", s)
	}
	if !strings.Contains(s.auth, "/20150830/eu-west-1/lambda/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=") {
		t.Errorf("Authorization %q", s.auth)
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("RoundTrip modified the caller's request")
	}
}

func TestSigV4Canonical(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "/",
		"/":                     "/",
		"/loki/api/v1/query":    "/loki/api/v1/query",
		"/a%20b/c":              "/a%2520b/c",
		"/label/app.kubernetes": "/label/app.kubernetes",
	} {
		if got := canonicalPath(in); got != want {
			t.Errorf("canonicalPath(%q) = %q, want %q", in, got, want)
		}
	}
	q, err := canonicalQuery("b=2&a=x+y&a=1&c=%7E")
	if err != nil || q != "a=1&a=x%20y&b=2&c=~" {
		t.Errorf("canonicalQuery = %q, %v", q, err)
	}
	if _, err := canonicalQuery("a=%zz"); err == nil {
		t.Error("bad query accepted")
	}
}

func TestCredentialsFromEnv(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "tok"}
	c, err := CredentialsFromEnv(func(k string) string { return env[k] })
	if err != nil || c != (Credentials{"AKID", "secret", "tok"}) {
		t.Errorf("got %+v %v", c, err)
	}
	if _, err := CredentialsFromEnv(func(string) string { return "" }); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("err = %v", err)
	}
}
