package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a config file. Line is 0 when the problem has no place in the
// file (a key that is missing altogether is reported at its parent's line when there is one).
// Messages never contain a secret's value.
type Problem struct {
	File string // the file name as given to Load, or "config" for Parse
	Line int
	Path string // key path, e.g. "server.listen" or "regions.HK.methods[0].account"; "" for the whole file
	Msg  string
}

// String formats the problem as "file:line: path: message".
func (p *Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error makes a single Problem usable as an error.
func (p *Problem) Error() string { return p.String() }

// Problems is every problem found in a config file, in file order. Load, Parse and
// ValidateMethods return it as their error so that an operator sees all mistakes at once; use
// errors.As to get at the list.
type Problems []*Problem

// Error joins the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sort orders problems by line, keeping the order of discovery for problems on one line.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b *Problem) int { return cmp.Compare(a.Line, b.Line) })
}

// problems collects Problems with positions looked up in a position table.
type problems struct {
	file string
	pos  map[string]int
	list Problems
}

// addf records a problem at the line of path, or of its closest recorded parent.
func (ps *problems) addf(path, format string, args ...any) {
	ps.list = append(ps.list, &Problem{File: ps.file, Line: lineOf(ps.pos, path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// addAt records a problem at an explicit line.
func (ps *problems) addAt(line int, path, format string, args ...any) {
	ps.list = append(ps.list, &Problem{File: ps.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	ps.list.sort()
	return ps.list
}

// lineOf returns the line of path or of its nearest ancestor ("a.b[2].c" -> "a.b[2]" -> "a.b" -> "a").
func lineOf(pos map[string]int, path string) int {
	for path != "" {
		if l, ok := pos[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
