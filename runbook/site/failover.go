package site

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Failover describes the standby site and how drbook watch decides the
// primary is down (plan 2.3, "Primary to Secondary System").
type Failover struct {
	// Secondary is the standby QuantAI root that drbook standby sync keeps
	// warm and a failover promotes.
	Secondary string `yaml:"secondary"`
	// Automatic lets drbook watch run the site-failover runbook unattended
	// once it declares the incident. It is the operator's standing
	// confirmation of the runbook's destructive steps; false declares and
	// stops, for the manual runbook.
	Automatic bool `yaml:"automatic"`
	// LBHook is a shell command that moves the load balancer to the
	// secondary; the runbook's load-balancer-hook step runs it.
	LBHook string      `yaml:"lb_hook"`
	DNS    FailoverDNS `yaml:"dns"`
	Health Health      `yaml:"health"`
}

// FailoverDNS is the Route 53 record that a failover moves.
type FailoverDNS struct {
	Zone      string `yaml:"zone"`      // hosted zone name or id
	Record    string `yaml:"record"`    // e.g. trading.quantai.example
	Secondary string `yaml:"secondary"` // the value it takes: the secondary's address or name
	Type      string `yaml:"type"`      // A (default), AAAA or CNAME
	TTL       int64  `yaml:"ttl"`       // seconds; 60 when 0
	// Endpoint is a Route 53 endpoint other than AWS (a drill's
	// moto_server); AWS_ENDPOINT_URL does the same.
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
}

// Health says what drbook watch probes on the primary, how often, and
// after how many failed rounds in a row it declares the incident.
type Health struct {
	// HeartbeatMaxAge is how old the trading loop's logs/heartbeat may get
	// ("2m"); 0 or empty does not probe it.
	HeartbeatMaxAge string `yaml:"heartbeat_max_age"`
	// QuickCheck runs PRAGMA quick_check on the database, read-only; on
	// unless set to false.
	QuickCheck *bool  `yaml:"quick_check"`
	HTTP       string `yaml:"http"`     // a health URL that answers 2xx
	Interval   string `yaml:"interval"` // between rounds; 30s when empty
	Failures   int    `yaml:"failures"` // rounds in a row; 3 when 0
}

// Defaults of the health probes.
const (
	DefaultHeartbeatMaxAge = 2 * time.Minute
	DefaultInterval        = 30 * time.Second
	DefaultFailures        = 3
)

// WatchSettings are the health settings with defaults applied.
type WatchSettings struct {
	HeartbeatMaxAge time.Duration
	QuickCheck      bool
	HTTP            string
	Interval        time.Duration
	Failures        int
}

// Watch returns the health settings with their defaults, or an error
// naming the key that does not parse.
func (f Failover) Watch() (WatchSettings, error) {
	w := WatchSettings{HeartbeatMaxAge: DefaultHeartbeatMaxAge, QuickCheck: true, HTTP: f.Health.HTTP,
		Interval: DefaultInterval, Failures: DefaultFailures}
	h := f.Health
	if h.HeartbeatMaxAge != "" {
		d, err := parseSpan(h.HeartbeatMaxAge)
		if err != nil {
			return w, fmt.Errorf("failover.health.heartbeat_max_age: %w", err)
		}
		w.HeartbeatMaxAge = d
	}
	if h.QuickCheck != nil {
		w.QuickCheck = *h.QuickCheck
	}
	if h.Interval != "" {
		d, err := parseSpan(h.Interval)
		if err != nil || d == 0 {
			if err == nil {
				err = fmt.Errorf("%q: want a positive duration", h.Interval)
			}
			return w, fmt.Errorf("failover.health.interval: %w", err)
		}
		w.Interval = d
	}
	if h.Failures < 0 {
		return w, fmt.Errorf("failover.health.failures: %d: want 1 or more", h.Failures)
	}
	if h.Failures > 0 {
		w.Failures = h.Failures
	}
	return w, nil
}

// parseSpan reads a Go duration ("90s", "2m"); "0" turns a probe off.
func parseSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a duration such as 30s or 2m", s)
	}
	return d, nil
}

// RunbookVars are the values the configuration gives runbook variables of
// a live incident: the failover ones (FailoverVars) and SITE_CONFIG, the
// configuration file itself (for the compliance check). A drill takes none
// but SITE_CONFIG: it must never act on the real site's secondary or DNS.
func (c *Config) RunbookVars() map[string]string {
	v := c.FailoverVars()
	if c.Path != "" {
		v["SITE_CONFIG"] = c.Path
	}
	return v
}

// FailoverVars are the site-failover runbooks' variables from the configuration.
func (c *Config) FailoverVars() map[string]string {
	f := c.Failover
	v := map[string]string{}
	set := func(k, val string) {
		if val != "" {
			v[k] = val
		}
	}
	if f.Secondary != "" {
		set("SECONDARY_ROOT", c.Resolve(f.Secondary))
	}
	set("DNS_ZONE", f.DNS.Zone)
	set("DNS_RECORD", f.DNS.Record)
	set("DNS_VALUE", f.DNS.Secondary)
	set("DNS_TYPE", strings.ToUpper(f.DNS.Type))
	if f.DNS.TTL > 0 {
		set("DNS_TTL", fmt.Sprint(f.DNS.TTL))
	}
	set("DNS_ENDPOINT", f.DNS.Endpoint)
	set("DNS_REGION", f.DNS.Region)
	set("LB_HOOK", f.LBHook)
	return v
}

// failoverProblems checks the failover section.
func (c *Config) failoverProblems(add func(key string, lvl Level, hint, format string, args ...any)) {
	f := c.Failover
	if s := f.Secondary; s != "" {
		s = c.Resolve(s)
		switch fi, err := os.Stat(s); {
		case err != nil:
			add("failover.secondary", Error, "create it, then drbook standby sync --root "+s, "failover.secondary %s: %v", s, unwrapPath(err))
		case !fi.IsDir():
			add("failover.secondary", Error, "", "failover.secondary %s is not a folder", s)
		}
		if r := c.System.Root; r != "" {
			a, _ := filepath.Abs(c.Resolve(r))
			b, _ := filepath.Abs(s)
			if a == b {
				add("failover.secondary", Error, "the standby must be another root", "failover.secondary is system.root (%s)", a)
			}
		}
	}
	d := f.DNS
	if d.Zone != "" || d.Record != "" || d.Secondary != "" {
		for _, k := range []struct{ key, val string }{{"zone", d.Zone}, {"record", d.Record}, {"secondary", d.Secondary}} {
			if k.val == "" {
				add("failover.dns", Error, "a DNS switch needs zone, record and secondary", "failover.dns has no %s", k.key)
			}
		}
	}
	switch strings.ToUpper(d.Type) {
	case "", "A", "AAAA", "CNAME":
	default:
		add("failover.dns.type", Error, "", "failover.dns.type %q: want A, AAAA or CNAME", d.Type)
	}
	if d.TTL < 0 {
		add("failover.dns.ttl", Error, "", "failover.dns.ttl %d: want seconds", d.TTL)
	}
	if e := d.Endpoint; e != "" {
		if msg := checkHTTPURL(e); msg != "" {
			add("failover.dns.endpoint", Error, "", "failover.dns.endpoint: %s", msg)
		}
	}
	if u := f.Health.HTTP; u != "" {
		if msg := checkHTTPURL(u); msg != "" {
			add("failover.health.http", Error, "", "failover.health.http: %s", msg)
		}
	}
	w, err := f.Watch()
	if err != nil {
		key, _, _ := strings.Cut(err.Error(), ":")
		add(key, Error, "", "%v", err)
	} else if w.HeartbeatMaxAge == 0 && !w.QuickCheck && w.HTTP == "" {
		add("failover.health", Error, "", "failover.health probes nothing: heartbeat_max_age is 0, quick_check false and no http")
	} else if w.HeartbeatMaxAge > 0 && w.HeartbeatMaxAge < w.Interval {
		add("failover.health.heartbeat_max_age", Warning, "make it at least the interval",
			"failover.health.heartbeat_max_age %s is shorter than the interval %s", w.HeartbeatMaxAge, w.Interval)
	}
	if f.Automatic {
		if f.Secondary == "" {
			add("failover.automatic", Error, "set failover.secondary", "failover.automatic is true but there is no secondary")
		}
		if d.Zone == "" || d.Record == "" || d.Secondary == "" {
			add("failover.automatic", Error, "set failover.dns zone, record and secondary", "failover.automatic is true but no DNS record to switch")
		}
	}
}
