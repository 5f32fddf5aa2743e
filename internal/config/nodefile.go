package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// NodeFile is a gateway node's config file (YAML or TOML): every key but vpc-bindings is
// the name of one of `opencen gateway`'s flags with its value, and vpc-bindings lists the
// node's static VPC bindings. Flags given on the command line win over the file.
type NodeFile struct {
	// Settings are the flag values, as the command line would give them (lists joined
	// with commas).
	Settings map[string]string
	Bindings []VPCBinding
}

const bindingsKey = "vpc-bindings"

// LoadNodeFile reads and checks a node's config file. The keys' meaning is the caller's
// (it knows its flags); the bindings are validated here.
func LoadNodeFile(path string) (NodeFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return NodeFile{}, fmt.Errorf("read node config: %w", err)
	}
	var raw map[string]any
	var typed struct {
		Bindings []VPCBinding `yaml:"vpc-bindings" toml:"vpc-bindings"`
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		if err = yaml.Unmarshal(data, &raw); err == nil {
			// Known fields: a misspelt binding key is an error, not a silent default.
			dec := yaml.NewDecoder(strings.NewReader(string(sub(data, raw))))
			dec.KnownFields(true)
			if err = dec.Decode(&typed); errors.Is(err, io.EOF) {
				err = nil
			}
		}
	case ".toml":
		if _, err = toml.Decode(string(data), &raw); err == nil {
			var md toml.MetaData
			if md, err = toml.Decode(string(data), &typed); err == nil {
				for _, k := range md.Undecoded() {
					if len(k) > 1 && k[0] == bindingsKey {
						err = fmt.Errorf("unknown key %s", k)
						break
					}
				}
			}
		}
	default:
		return NodeFile{}, fmt.Errorf("node config %s: use a .yaml, .yml or .toml file", path)
	}
	if err != nil {
		return NodeFile{}, fmt.Errorf("parse node config %s: %w", path, err)
	}
	f := NodeFile{Settings: map[string]string{}, Bindings: typed.Bindings}
	for k, v := range raw {
		if k == bindingsKey {
			continue
		}
		s, err := flagValue(v)
		if err != nil {
			return NodeFile{}, fmt.Errorf("node config %s: %s: %w", path, k, err)
		}
		f.Settings[k] = s
	}
	seen := map[string]bool{}
	for i, b := range f.Bindings {
		if err := b.Validate(); err != nil {
			return NodeFile{}, fmt.Errorf("node config %s: vpc-bindings[%d] (%s): %s", path, i, b.VpcID, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		if seen[b.VpcID] {
			return NodeFile{}, fmt.Errorf("node config %s: vpc-bindings: %s is bound twice", path, b.VpcID)
		}
		seen[b.VpcID] = true
	}
	return f, nil
}

// sub is the YAML document with only the bindings key (the other keys are flags).
func sub(data []byte, raw map[string]any) []byte {
	b, ok := raw[bindingsKey]
	if !ok {
		return nil
	}
	out, err := yaml.Marshal(map[string]any{bindingsKey: b})
	if err != nil {
		return data
	}
	return out
}

// flagValue is a scalar or a list of scalars as a flag takes it.
func flagValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(v), nil
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			s, err := flagValue(e)
			if err != nil || strings.Contains(s, ",") {
				return "", errors.New("a list holds plain values without commas")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("%T is not a flag value: give a string, number, boolean or list", v)
}
