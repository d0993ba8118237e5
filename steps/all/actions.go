package all

// The kill switch, reconciliation, failover plan and the shell and SQL
// block runners.
import (
	_ "github.com/drbook/drbook/steps/failover"
	_ "github.com/drbook/drbook/steps/killswitch"
	_ "github.com/drbook/drbook/steps/reconcile"
	_ "github.com/drbook/drbook/steps/shell"
)
