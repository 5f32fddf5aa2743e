// Command unsafecheck finds, in the module's non-test Go code, what can crash the server
// on data it did not write itself: MustParse* calls, panic, and type assertions whose
// failure is not checked (x.(T) outside a two-value assignment or a type switch). Each
// use that remains must be listed in the allow-list with the reason it cannot fail:
//
//	go run ./scripts/unsafecheck [-allow scripts/unsafe-allow.txt] [dirs...]
//
// An allow-list line is "<file>: <expression>  # why", the expression as the source
// spells it (so it survives edits elsewhere in the file). The command fails on every use
// not allowed and on every allow-list line that matches nothing (a stale excuse).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type finding struct {
	file, expr, what string
	line             int
}

func main() {
	allowPath := flag.String("allow", "scripts/unsafe-allow.txt", "the allow-list")
	flag.Parse()
	dirs := flag.Args()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	allowed, err := readAllow(*allowPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "unsafecheck:", err)
		os.Exit(2)
	}
	var found []finding
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				name := d.Name()
				if path != dir && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "contract") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			fs, err := check(path)
			found = append(found, fs...)
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "unsafecheck:", err)
			os.Exit(2)
		}
	}
	used := map[string]bool{}
	bad := 0
	for _, f := range found {
		key := filepath.ToSlash(f.file) + ": " + f.expr
		if _, ok := allowed[key]; ok {
			used[key] = true
			continue
		}
		bad++
		fmt.Printf("%s:%d: %s %s (not in %s: handle the error, or list it with the reason it cannot fail)\n", f.file, f.line, f.what, f.expr, *allowPath)
	}
	stale := []string{}
	for key := range allowed {
		if !used[key] {
			stale = append(stale, key)
		}
	}
	sort.Strings(stale)
	for _, key := range stale {
		bad++
		fmt.Printf("%s: allow-list entry %q matches nothing; remove it\n", *allowPath, key)
	}
	if bad > 0 {
		os.Exit(1)
	}
	fmt.Printf("unsafecheck: %d allowed uses, none else\n", len(used))
}

// readAllow reads "<file>: <expr>  # why" lines; the reason is required.
func readAllow(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		entry, why, ok := strings.Cut(line, "  # ")
		if !ok || strings.TrimSpace(why) == "" {
			return nil, fmt.Errorf("%s:%d: want \"<file>: <expression>  # why it cannot fail\"", path, n)
		}
		out[strings.TrimSpace(entry)] = why
	}
	return out, sc.Err()
}

func check(path string) ([]finding, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		return nil, err
	}
	src := func(n ast.Node) string {
		var b strings.Builder
		_ = printer.Fprint(&b, fset, n)
		return strings.Join(strings.Fields(b.String()), " ")
	}
	var out []finding
	add := func(n ast.Node, what string) {
		out = append(out, finding{file: path, line: fset.Position(n.Pos()).Line, expr: src(n), what: what})
	}
	// Type assertions that are checked: v, ok := x.(T) / v, ok = x.(T), and type switches.
	checked := map[ast.Expr]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if len(n.Lhs) == 2 && len(n.Rhs) == 1 {
				if ta, ok := n.Rhs[0].(*ast.TypeAssertExpr); ok {
					checked[ta] = true
				}
			}
		case *ast.ValueSpec:
			if len(n.Names) == 2 && len(n.Values) == 1 {
				if ta, ok := n.Values[0].(*ast.TypeAssertExpr); ok {
					checked[ta] = true
				}
			}
		case *ast.TypeSwitchStmt:
			ast.Inspect(n.Assign, func(m ast.Node) bool {
				if ta, ok := m.(*ast.TypeAssertExpr); ok {
					checked[ta] = true
				}
				return true
			})
		}
		return true
	})
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.TypeAssertExpr:
			if !checked[n] && n.Type != nil {
				add(n, "unchecked type assertion")
			}
		case *ast.CallExpr:
			switch fn := n.Fun.(type) {
			case *ast.Ident:
				if fn.Name == "panic" {
					add(n, "panic")
				}
			case *ast.SelectorExpr:
				if strings.HasPrefix(fn.Sel.Name, "MustParse") {
					add(n, "MustParse")
				}
			}
		}
		return true
	})
	return out, nil
}
