package all

import _ "github.com/drbook/drbook/steps/backup" // backup, restore, restore-config
