package all

// Site failover (plan 2.3): the DNS switch and the standby site.
import (
	_ "github.com/drbook/drbook/steps/dns"
	_ "github.com/drbook/drbook/steps/standby"
)
