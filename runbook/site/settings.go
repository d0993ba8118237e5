package site

import (
	"fmt"
	"reflect"
	"strings"
)

// Setting is one effective value and where it came from.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"` // "flag", "env $NAME", "FILE:LINE" or "default"
}

// Settings flattens the configuration into dotted keys with the place in
// the file each was set. Keys the file does not set are left out; the
// command line adds flags, environment and defaults on top.
func (c *Config) Settings() []Setting {
	var out []Setting
	flatten(reflect.ValueOf(*c), "", func(key, val string) {
		src := c.Where(key)
		if src == "" {
			src = "default"
		}
		out = append(out, Setting{Key: key, Value: val, Source: src})
	})
	return out
}

func flatten(v reflect.Value, prefix string, emit func(key, val string)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			flatten(v.Elem(), prefix, emit)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			flatten(v.Field(i), join(prefix, tag), emit)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			if v.Len() > 0 {
				parts := make([]string, v.Len())
				for i := range parts {
					parts[i] = v.Index(i).String()
				}
				emit(prefix, strings.Join(parts, ", "))
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			flatten(v.Index(i), join(prefix, fmt.Sprint(i)), emit)
		}
	default:
		if !v.IsZero() {
			emit(prefix, fmt.Sprint(v.Interface()))
		}
	}
}
