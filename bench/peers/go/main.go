// go-peer: a benchmark peer for leash-load built on net/http (HTTP/1.1 only).
//
//	go-peer [-n N] [-c C] [--insecure | --cacert FILE] [--expect-status S] [--expect-bytes B] URL
//
// C goroutines share one http.Client whose Transport keeps at most C keep-alive connections to
// the host; each goroutine takes the next request number from an atomic counter until N have
// been issued, so exactly C GETs are in flight. Bodies are counted into a reused buffer and
// discarded. At exit one JSON object is printed on stdout.
//
// Build: cd bench/peers/go && GOFLAGS=-mod=mod GOCACHE=/tmp/gocache go build -o /tmp/go-peer .
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const usageText = "usage: go-peer [-n N] [-c C] [--insecure | --cacert FILE] [--expect-status S] [--expect-bytes B] URL"

type options struct {
	requests     uint64
	concurrency  int
	insecure     bool
	cacert       string
	expectStatus int
	expectBytes  int64 // -1 = any length
	url          string
}

func usageError(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-peer: "+format+"\n%s\n", append(args, usageText)...)
	os.Exit(2)
}

func parseUint(name, text string, min, max uint64) uint64 {
	v, err := strconv.ParseUint(text, 10, 64)
	if err != nil || v < min || v > max {
		usageError("%s: '%s' is not an integer in [%d, %d]", name, text, min, max)
	}
	return v
}

// parseArgs accepts "-n N", "-nN", "--opt V" and "--opt=V"; the URL may come anywhere.
func parseArgs(args []string) options {
	o := options{requests: 1000, concurrency: 16, expectStatus: 200, expectBytes: -1}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			if o.url != "" {
				usageError("more than one URL: %s", arg)
			}
			o.url = arg
			continue
		}
		switch arg {
		case "-h", "--help":
			fmt.Println(usageText)
			os.Exit(0)
		case "--insecure":
			o.insecure = true
			continue
		}
		name, value, hasValue := arg, "", false
		if strings.HasPrefix(arg, "--") {
			if eq := strings.IndexByte(arg, '='); eq >= 0 {
				name, value, hasValue = arg[:eq], arg[eq+1:], true
			}
		} else if len(arg) > 2 {
			name, value, hasValue = arg[:2], arg[2:], true
		}
		switch name {
		case "-n", "-c", "--cacert", "--expect-status", "--expect-bytes":
		default:
			usageError("unknown option '%s'", arg)
		}
		if !hasValue {
			if i+1 >= len(args) {
				usageError("%s: missing value", name)
			}
			i++
			value = args[i]
		}
		switch name {
		case "-n":
			o.requests = parseUint(name, value, 0, 1<<62)
		case "-c":
			o.concurrency = int(parseUint(name, value, 1, 100000))
		case "--cacert":
			if value == "" {
				usageError("--cacert: empty file name")
			}
			o.cacert = value
		case "--expect-status":
			o.expectStatus = int(parseUint(name, value, 100, 999))
		case "--expect-bytes":
			o.expectBytes = int64(parseUint(name, value, 0, 1<<62))
		}
	}
	if o.url == "" {
		usageError("missing URL")
	}
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		usageError("'%s' is not an http:// or https:// URL", o.url)
	}
	if o.insecure && o.cacert != "" {
		usageError("--insecure and --cacert are mutually exclusive")
	}
	return o
}

func tlsConfig(o options) *tls.Config {
	if o.insecure {
		return &tls.Config{InsecureSkipVerify: true}
	}
	if o.cacert == "" {
		return nil // system roots
	}
	pem, err := os.ReadFile(o.cacert)
	if err != nil {
		usageError("--cacert: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		usageError("--cacert: no PEM certificates in %s", o.cacert)
	}
	return &tls.Config{RootCAs: pool}
}

type tally struct {
	ok, failed uint64
	_          [48]byte // keep the workers' counters on separate cache lines
}

func main() {
	o := parseArgs(os.Args[1:])
	c := o.concurrency
	if uint64(c) > o.requests {
		c = int(o.requests)
	}

	transport := &http.Transport{
		MaxConnsPerHost:     o.concurrency,
		MaxIdleConnsPerHost: o.concurrency,
		MaxIdleConns:        o.concurrency,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
		TLSClientConfig:     tlsConfig(o),
		DisableCompression:  true, // no Accept-Encoding: count the bytes as sent, like curl
	}
	client := &http.Client{
		Transport: transport,
		// Like curl: a 3xx is the response, not a redirect to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	var next uint64
	tallies := make([]tally, c)
	var wg sync.WaitGroup
	wg.Add(c)
	start := time.Now()
	for w := 0; w < c; w++ {
		go func(t *tally) {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodGet, o.url, nil)
			if err != nil {
				fmt.Fprintf(os.Stderr, "go-peer: %v\n", err)
				os.Exit(1)
			}
			buf := make([]byte, 32<<10)
			for atomic.AddUint64(&next, 1) <= o.requests {
				// The request is reused: allowed once the previous response body is closed.
				resp, err := client.Do(req)
				if err != nil {
					t.failed++
					continue
				}
				var n int64
				var rerr error
				for {
					m, e := resp.Body.Read(buf)
					n += int64(m)
					if e != nil {
						if e != io.EOF {
							rerr = e
						}
						break
					}
				}
				resp.Body.Close()
				if rerr == nil && resp.StatusCode == o.expectStatus && (o.expectBytes < 0 || n == o.expectBytes) {
					t.ok++
				} else {
					t.failed++
				}
			}
		}(&tallies[w])
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	transport.CloseIdleConnections()

	var ok, failed uint64
	for i := range tallies {
		ok += tallies[i].ok
		failed += tallies[i].failed
	}
	rps := 0.0
	if elapsed > 0 {
		rps = float64(o.requests) / elapsed
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	sec := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	fmt.Printf("{\"client\":\"go\",\"requests\":%d,\"ok\":%d,\"failed\":%d,\"elapsed_s\":%.6f,\"rps\":%.6f,"+
		"\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,\"peak_rss_kb\":%d}\n",
		o.requests, ok, failed, elapsed, rps, sec(ru.Utime), sec(ru.Stime), ru.Maxrss)
}
