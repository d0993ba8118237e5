package all

import _ "github.com/drbook/drbook/checks" // integrity-check, validate-data, validate-config
