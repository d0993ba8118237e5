package lexers

import (
	"embed"
	"io/fs"
	"sync"

	"github.com/alecthomas/chroma/v2"
)

//go:embed embedded
var embedded embed.FS

// registry holds the embedded XML lexers and those registered with
// Register. It is built on first use, not at package initialisation:
// parsing about 250 XML definitions took 8-13 ms before main in every
// program that links this package, whether it highlights anything or not.
// Lexers registered during initialisation (the Go-coded ones) wait in
// pending and are added, in order, after the XML ones, as before.
var (
	registryOnce sync.Once
	registry     *chroma.LexerRegistry
	pendingMu    sync.Mutex
	pending      []chroma.Lexer
	loaded       bool
	hooks        []func(*chroma.LexerRegistry)
)

// afterLoad runs hook on the registry once it is built, after the pending
// lexers are added: for analysers set in Go on XML lexers.
func afterLoad(hook func(*chroma.LexerRegistry)) {
	hooks = append(hooks, hook)
}

// GlobalLexerRegistry returns the global LexerRegistry of Lexers, built on
// first use.
func GlobalLexerRegistry() *chroma.LexerRegistry {
	registryOnce.Do(func() {
		reg := chroma.NewLexerRegistry()
		paths, err := fs.Glob(embedded, "embedded/*.xml")
		if err != nil {
			panic(err)
		}
		for _, path := range paths {
			reg.Register(chroma.MustNewXMLLexer(embedded, path))
		}
		pendingMu.Lock()
		for _, l := range pending {
			reg.Register(l)
		}
		pending, loaded = nil, true
		pendingMu.Unlock()
		for _, hook := range hooks {
			hook(reg)
		}
		registry = reg
	})
	return registry
}

// Names of all lexers, optionally including aliases.
func Names(withAliases bool) []string {
	return GlobalLexerRegistry().Names(withAliases)
}

// Aliases of all the lexers, and skip those lexers who do not have any aliases,
// or show their name instead
func Aliases(skipWithoutAliases bool) []string {
	return GlobalLexerRegistry().Aliases(skipWithoutAliases)
}

// Get a Lexer by name, alias or file extension.
//
// Note that this if there isn't an exact match on name or alias, this will
// call Match(), so it is not efficient.
func Get(name string) chroma.Lexer {
	return GlobalLexerRegistry().Get(name)
}

// MatchMimeType attempts to find a lexer for the given MIME type.
func MatchMimeType(mimeType string) chroma.Lexer {
	return GlobalLexerRegistry().MatchMimeType(mimeType)
}

// Match returns the first lexer matching filename.
//
// Note that this iterates over all file patterns in all lexers, so it's not
// particularly efficient.
func Match(filename string) chroma.Lexer {
	return GlobalLexerRegistry().Match(filename)
}

// Register a Lexer with the global registry.
//
// Before the registry is first used (during package initialisation) the
// lexer is kept and added when it is built.
func Register(lexer chroma.Lexer) chroma.Lexer {
	pendingMu.Lock()
	if !loaded {
		pending = append(pending, lexer)
		pendingMu.Unlock()
		return lexer
	}
	pendingMu.Unlock()
	return GlobalLexerRegistry().Register(lexer)
}

// Analyse text content and return the "best" lexer..
func Analyse(text string) chroma.Lexer {
	return GlobalLexerRegistry().Analyse(text)
}

// PlaintextRules is used for the fallback lexer as well as the explicit
// plaintext lexer.
func PlaintextRules() chroma.Rules {
	return chroma.Rules{
		"root": []chroma.Rule{
			{`.+`, chroma.Text, nil},
			{`\n`, chroma.Text, nil},
		},
	}
}

// Fallback lexer if no other is found.
var Fallback chroma.Lexer = chroma.MustNewLexer(&chroma.Config{
	Name:      "fallback",
	Filenames: []string{"*"},
	Priority:  -1,
}, PlaintextRules)
