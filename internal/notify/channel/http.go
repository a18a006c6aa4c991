package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	commoncfg "github.com/prometheus/common/config"
)

// UserAgent is sent with every HTTP request a channel makes.
const UserAgent = "gmc-notify/1"

// HTTPError is a non-2xx answer from a channel's endpoint.
type HTTPError struct {
	StatusCode int
	// Body is the start of the answer's body.
	Body string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("unexpected status %d: %s", e.StatusCode, e.Body)
}

// PostJSON posts body as JSON to url and returns the answer's body (first
// 64 KiB). A 4xx answer other than 408 and 429 is Permanent; 5xx, 408, 429 and
// transport errors are retryable. Errors do not repeat the URL, which may hold
// a secret.
func PostJSON(ctx context.Context, client *http.Client, url string, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, Permanent(fmt.Errorf("encode payload: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return nil, Permanent(errors.New("build request: invalid url"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post: %w", redactURL(err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return answer, nil
	}
	herr := &HTTPError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(answer[:min(len(answer), 512)]))}
	if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
		return answer, Permanent(herr)
	}
	return answer, herr
}

// redactURL drops the URL from a *url.Error: webhook URLs and bot tokens are secrets.
func redactURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s: %w", uerr.Op, uerr.Err)
	}
	return err
}

// ResolveSecret returns the secret given inline or, when file is set, read
// from that file (surrounding whitespace trimmed). field names the YAML key in
// errors.
func ResolveSecret(inline commoncfg.Secret, file, field string) (string, error) {
	if file == "" {
		return string(inline), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_file: read secret: %w", field, err)
	}
	return strings.TrimSpace(string(data)), nil
}

// CheckSecret validates that exactly one of a secret and its *_file is set.
func CheckSecret(inline commoncfg.Secret, file, field string) error {
	switch {
	case inline != "" && file != "":
		return fmt.Errorf("%s: set only one of %s and %s_file", field, field, field)
	case inline == "" && file == "":
		return fmt.Errorf("%s: must be set (or %s_file)", field, field)
	}
	return nil
}

// CheckSecretURL validates a secret that is an http(s) URL (a webhook URL
// carrying its token): exactly one of it and its *_file, and an inline value
// must parse.
func CheckSecretURL(inline commoncfg.Secret, file, field string) error {
	if err := CheckSecret(inline, file, field); err != nil {
		return err
	}
	if inline != "" {
		if err := checkHTTPURL(string(inline)); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	return nil
}

// ResolveSecretURL is ResolveSecret for a secret that must be an http(s) URL.
func ResolveSecretURL(inline commoncfg.Secret, file, field string) (string, error) {
	u, err := ResolveSecret(inline, file, field)
	if err != nil {
		return "", err
	}
	if err := checkHTTPURL(u); err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return u, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
}
