package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	smtp "github.com/emersion/go-smtp"
	commoncfg "github.com/prometheus/common/config"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// mailbox is a go-smtp backend that requires AUTH PLAIN (only after
// STARTTLS) and keeps what it receives.
type mailbox struct {
	mu    sync.Mutex
	mails []received
	tls   []bool
}

type received struct {
	from string
	to   []string
	data string
	user string
}

func (m *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	m.mu.Lock()
	m.tls = append(m.tls, isTLS)
	m.mu.Unlock()
	return &session{box: m, conn: c}, nil
}

type session struct {
	box  *mailbox
	conn *smtp.Conn
	cur  received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "alerts@gmc.test" || pass != "s3cret" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication credentials invalid"}
		}
		s.cur.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.cur.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	if _, ok := s.conn.TLSConnectionState(); !ok {
		return errors.New("mail over plain text")
	}
	s.box.mu.Lock()
	s.box.mails = append(s.box.mails, s.cur)
	s.box.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{user: s.cur.user} }
func (s *session) Logout() error { return nil }

// selfSigned returns a certificate for 127.0.0.1 and its PEM.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gmc test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func startSMTP(t *testing.T, withTLS bool) (*mailbox, string, string) {
	t.Helper()
	cert, caPEM := selfSigned(t)
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "127.0.0.1"
	if withTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	srv.AllowInsecureAuth = false
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return box, ln.Addr().String(), caPEM
}

func TestSendOverSTARTTLSWithPlainAuth(t *testing.T) {
	box, addr, caPEM := startSMTP(t, true)
	now := time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC)
	n, err := New(Config{
		Smarthost: addr, From: "gmc <alerts@gmc.test>", To: "ops@gmc.test, oncall@gmc.test",
		AuthUsername: "alerts@gmc.test", AuthPassword: "s3cret",
		TLSConfig: commoncfg.TLSConfig{CA: caPEM},
	}, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), channel.Sample()); err != nil {
		t.Fatalf("notify: %v", err)
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	if len(box.mails) != 1 {
		t.Fatalf("%d mails received", len(box.mails))
	}
	m := box.mails[0]
	if m.from != "alerts@gmc.test" || strings.Join(m.to, ",") != "ops@gmc.test,oncall@gmc.test" || m.user != "alerts@gmc.test" {
		t.Errorf("envelope %+v", m)
	}
	wantHeaders := []string{
		"From: \"gmc\" <alerts@gmc.test>\r\n",
		"To: ops@gmc.test, oncall@gmc.test\r\n",
		"Subject: [FIRING:1] HighLatency\r\n",
		"Date: Wed, 25 Nov 2026 10:01:00 +0000\r\n",
		"Content-Type: text/plain; charset=UTF-8\r\n",
	}
	for _, h := range wantHeaders {
		if !strings.Contains(m.data, h) {
			t.Errorf("header %q missing in\n%s", h, m.data)
		}
	}
	_, body, _ := strings.Cut(m.data, "\r\n\r\n")
	wantBody := "[FIRING:1] HighLatency\r\n\r\n" +
		"[FIRING] p99 > 1ms & rising\r\n  since: 2026-11-25T10:00:00Z\r\n  alertname=HighLatency\r\n  service=matching<engine>\r\n  severity=page\r\n  summary=p99 > 1ms & rising\r\n  source: http://gmc.example:9900/graph?g0.expr=x\r\n\r\n" +
		"[RESOLVED] HighLatency\r\n  since: 2026-11-25T10:00:00Z\r\n  ended: 2026-11-25T10:05:00Z\r\n  alertname=HighLatency\r\n  service=gateway\r\n  severity=page\r\n\r\n" +
		"Sent by gmc: http://gmc.example:9900\r\n"
	if body != wantBody {
		t.Errorf("body\n got %q\nwant %q", body, wantBody)
	}
}

func TestRefusals(t *testing.T) {
	t.Run("wrong password is permanent", func(t *testing.T) {
		box, addr, caPEM := startSMTP(t, true)
		n, err := New(Config{Smarthost: addr, From: "alerts@gmc.test", To: "ops@gmc.test", AuthUsername: "alerts@gmc.test", AuthPassword: "wrong", TLSConfig: commoncfg.TLSConfig{CA: caPEM}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = n.Notify(context.Background(), channel.Sample())
		if err == nil || !channel.IsPermanent(err) || !strings.Contains(err.Error(), "smtp auth") {
			t.Errorf("err %v (permanent %v)", err, channel.IsPermanent(err))
		}
		if len(box.mails) != 0 {
			t.Error("mail accepted")
		}
	})
	t.Run("no STARTTLS with require_tls", func(t *testing.T) {
		_, addr, _ := startSMTP(t, false)
		n, err := New(Config{Smarthost: addr, From: "alerts@gmc.test", To: "ops@gmc.test", AuthUsername: "alerts@gmc.test", AuthPassword: "s3cret"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = n.Notify(context.Background(), channel.Sample())
		if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		_, addr, _ := startSMTP(t, true)
		n, err := New(Config{Smarthost: addr, From: "alerts@gmc.test", To: "ops@gmc.test", AuthUsername: "alerts@gmc.test", AuthPassword: "s3cret"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = n.Notify(context.Background(), channel.Sample())
		if err == nil || !strings.Contains(err.Error(), "starttls") {
			t.Errorf("err %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Smarthost: "mail", From: "a@b", To: "c@d"}, `smarthost: "mail" is not host:port`},
		{Config{Smarthost: "mail:587", From: "nope", To: "c@d"}, `from: "nope" is not an e-mail address`},
		{Config{Smarthost: "mail:587", From: "a@b"}, "to: must be set"},
		{Config{Smarthost: "mail:587", From: "a@b", To: "c@d", AuthPassword: "x"}, "auth_username: must be set with auth_password"},
	} {
		if err := tc.c.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

// TestResolvedBodyIsNotFiringText: see the slack package's
// TestResolvedTextIsNotFiringText; the body's list of annotations says
// they are those of the last firing evaluation.
func TestResolvedBodyIsNotFiringText(t *testing.T) {
	body := Body(channel.SampleResolved())
	var heads []string // the alerts' own lines, not their labels and annotations
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, "  ") {
			heads = append(heads, l)
		}
	}
	if p := channel.ResolvedSampleProblem(strings.Join(heads, "\n")); p != "" {
		t.Errorf("%s in:\n%s", p, body)
	}
	if strings.Count(body, "  annotations as of its last firing evaluation:\n") != 2 {
		t.Errorf("body does not head each resolved alert's annotations as of its last firing evaluation:\n%s", body)
	}
}
