package all

import _ "github.com/drbook/drbook/steps/compliance" // compliance-check
