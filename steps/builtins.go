package steps

// Names of the actions that run shell and SQL blocks. They are registered
// like the others but chosen by a block's language, not by a drbook block.
const (
	ShellAction = "shell"
	SQLAction   = "sql"
)
