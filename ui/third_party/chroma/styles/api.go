package styles

import (
	"embed"
	"io/fs"
	"sort"
	"sync"

	"github.com/alecthomas/chroma/v2"
)

//go:embed *.xml
var embedded embed.FS

// Registry of Styles registered with Register.
//
// The embedded styles are not in it: they are parsed on first use (by Get
// or Names), not at package initialisation, where parsing about 70 XML
// styles took 5-7 ms before main in every program that links this
// package. They are kept apart so that loading them never writes to this
// map, which callers read directly under their own locks.
var Registry = map[string]*chroma.Style{}

// embeddedStyles parses the embedded styles once, on first use.
var embeddedStyles = sync.OnceValue(func() map[string]*chroma.Style {
	registry := map[string]*chroma.Style{}
	files, err := fs.ReadDir(embedded, ".")
	if err != nil {
		panic(err)
	}
	for _, file := range files {
		if file.IsDir() {
			continue
		}
		r, err := embedded.Open(file.Name())
		if err != nil {
			panic(err)
		}
		style, err := chroma.NewXMLStyle(r)
		if err != nil {
			panic(err)
		}
		registry[style.Name] = style
		_ = r.Close()
	}
	return registry
})

// Fallback style. Reassign to change the default fallback style; while it
// is nil, Get falls back to the embedded "swapoff".
var Fallback *chroma.Style

// Register a chroma.Style.
func Register(style *chroma.Style) *chroma.Style {
	Registry[style.Name] = style
	return style
}

// Names of all available styles.
func Names() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, m := range []map[string]*chroma.Style{Registry, embeddedStyles()} {
		for name := range m {
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Get named style, or Fallback.
func Get(name string) *chroma.Style {
	if style, ok := Registry[name]; ok {
		return style
	}
	if style, ok := embeddedStyles()[name]; ok {
		return style
	}
	if Fallback != nil {
		return Fallback
	}
	return embeddedStyles()["swapoff"]
}
