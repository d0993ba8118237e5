package cli

import (
	"github.com/spf13/pflag"

	"github.com/drbook/drbook/runbook/site"
	"github.com/drbook/drbook/steps/reconcile"
)

// The commands take what the site configuration says where no flag (and,
// for the values that have one, no environment variable) says otherwise:
// flag, environment, file, built-in default. 'drbook config' prints the
// same resolution (settingSpecs).

// unset reports whether the flag called name exists on fs and was not given.
func unset(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && !f.Changed
}

// site fills the backup commands' unset flags from the site configuration.
func (o *backupFlags) site(iox *IO, fs *pflag.FlagSet) error {
	o.s3PathStyleSet = fs.Changed("s3-path-style")
	cfg, err := iox.Site()
	if err != nil {
		return err
	}
	if unset(fs, "root") && cfg.System.Root != "" {
		o.root = cfg.Resolve(cfg.System.Root)
	}
	if unset(fs, "to") && iox.Getenv("DRBOOK_BACKUP_DIR") == "" && len(cfg.Backup.Dirs) > 0 {
		o.dir = cfg.Resolve(cfg.Backup.Dirs[0])
	}
	if unset(fs, "s3") && iox.Getenv("DRBOOK_S3") == "" && cfg.Backup.S3.URL != "" {
		o.s3 = cfg.Backup.S3.URL
		if unset(fs, "s3-endpoint") {
			o.s3Endpoint = cfg.Backup.S3.Endpoint
		}
		if unset(fs, "s3-region") {
			o.s3Region = cfg.Backup.S3.Region
		}
		if !o.s3PathStyleSet && cfg.Backup.S3.PathStyle {
			o.s3PathStyle, o.s3PathStyleSet = true, true
		}
	}
	if unset(fs, "passphrase-file") && iox.Getenv("DRBOOK_PASSPHRASE") == "" {
		if f := iox.Getenv("DRBOOK_PASSPHRASE_FILE"); f != "" {
			o.passFile = f
		} else if cfg.Backup.PassphraseFile != "" {
			o.passFile = cfg.Resolve(cfg.Backup.PassphraseFile)
		}
	}
	if unset(fs, "state-dir") {
		o.stateDir = stateDirOr(iox, cfg, "")
	}
	return nil
}

// site fills the kill switch's, reconcile's and failover's unset --root
// and --state-dir from the site configuration.
func (o *actionOptions) site(iox *IO, fs *pflag.FlagSet) error {
	cfg, err := iox.Site()
	if err != nil {
		return err
	}
	if unset(fs, "root") && cfg.System.Root != "" {
		o.root = cfg.Resolve(cfg.System.Root)
	}
	if unset(fs, "state-dir") {
		o.stateDir = stateDirOr(iox, cfg, "")
	}
	return nil
}

// reconcileSite fills reconcile's unset --broker and API flags from the
// brokers of the site configuration: each broker's statement file, else
// its API.
func reconcileSite(iox *IO, fs *pflag.FlagSet, statements *[]string, api *reconcile.APIOptions) error {
	cfg, err := iox.Site()
	if err != nil {
		return err
	}
	if unset(fs, "broker") {
		for _, b := range []struct {
			name string
			b    site.Broker
		}{{"ibkr", cfg.Brokers.IBKR}, {"alpaca", cfg.Brokers.Alpaca}} {
			switch {
			case b.b.Statement != "":
				*statements = append(*statements, cfg.Resolve(b.b.Statement))
			case b.b.API != "":
				*statements = append(*statements, b.name+"-api")
			}
		}
	}
	if unset(fs, "alpaca-url") && cfg.Brokers.Alpaca.API != "" {
		api.AlpacaURL = cfg.Brokers.Alpaca.API
	}
	if unset(fs, "ibkr-url") && cfg.Brokers.IBKR.API != "" {
		api.IBKRURL = cfg.Brokers.IBKR.API
	}
	if unset(fs, "ibkr-insecure") && cfg.Brokers.IBKR.InsecureTLS {
		api.IBKRInsecure = true
	}
	return nil
}
