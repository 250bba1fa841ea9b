package config

import "fmt"

// MaxNesting bounds how deep a configuration may nest, as estimated by
// checkNesting. opsview's own configs stay under 20; the YAML parser's
// time and memory grow with the square of the depth (100,000 levels in
// 200 KB took minutes and 10 GB), so deeper input is refused before it
// is parsed.
const MaxNesting = 100

// checkNesting is a pre-scan in one pass over the bytes, with no
// allocation, that refuses input nesting deeper than MaxNesting. It never
// counts less than the parser would nest: flow brackets, indentation
// levels (twice: a sequence may sit at its mapping's indentation) and
// compact entries (`- - x`, two levels each) all count. Brackets inside
// a quoted span do not count while they are balanced; the ones left open
// when the span ends count as structure, so a quote this scan misreads
// cannot hide structure. A quote ends at a line's end here, and what
// follows on the next line counts until the quote closes: at worst too
// much. So does a text (in quotes or a block scalar) holding over 100
// opening brackets that it does not close: no configuration does.
func checkNesting(file string, data []byte) error {
	var (
		flow       int  // open flow collections
		quoteOpens int  // unclosed brackets inside the current quote
		quote      byte // the open quote, or 0
		carried    byte // a quote left open by the previous line
		indents    [MaxNesting + 1]int
		levels     int // indentation levels on the stack
		lineNo     = 1
		lineStart  = true
		atScalar   = true // a quote here opens a quoted scalar
		dashes     int
		inComment  bool
		prev       byte = '\n'
	)
	endQuote := func() {
		flow += quoteOpens
		quote, quoteOpens = 0, 0
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '\n' {
			if quote != 0 {
				carried = quote
				endQuote()
			}
			inComment, dashes = false, 0
			lineStart, atScalar, prev = true, true, c
			lineNo++
			continue
		}
		if inComment {
			continue
		}
		if lineStart {
			if c == ' ' {
				continue
			}
			lineStart = false
			if c != '#' && c != '\r' {
				col := indentOf(data, i)
				for levels > 0 && indents[levels-1] >= col {
					levels--
				}
				indents[levels] = col
				levels++
			}
		}
		switch {
		case carried != 0:
			// the rest of a quoted scalar: brackets count (at worst too
			// many) until the quote closes
			if c == carried && !(c == '"' && escaped(data, i)) {
				carried = 0
				atScalar = false
			} else {
				countBracket(c, &flow)
			}
		case quote != 0:
			switch {
			case c == '\'' && quote == '\'' && i+1 < len(data) && data[i+1] == '\'':
				i++ // '' is a quote inside single quotes
			case c == quote && !(c == '"' && escaped(data, i)):
				endQuote()
				atScalar = false
			case c == '[' || c == '{':
				quoteOpens++
			case (c == ']' || c == '}') && quoteOpens > 0:
				quoteOpens--
			}
		case c == '#' && (prev == ' ' || prev == '\t' || prev == '\n'):
			inComment = true
		case (c == '"' || c == '\'') && atScalar:
			quote = c
		case (c == '-' || c == '?') && atScalar && (i+1 == len(data) || isBlank(data[i+1])):
			dashes++
		case c == ':' && (flow > 0 || i+1 == len(data) || isBlank(data[i+1])):
			atScalar = true
		case c == '[' || c == '{' || c == ',':
			countBracket(c, &flow)
			atScalar = true
		case c == ']' || c == '}':
			countBracket(c, &flow)
			atScalar = false
		case c == ' ' || c == '\t' || c == '\r':
		case (c == '!' || c == '&') && atScalar:
			// a tag or an anchor: the scalar starts after it (its name
			// ends at a blank or a flow indicator, as the parser reads it)
			for i+1 < len(data) && !isBlank(data[i+1]) && !isFlowIndicator(data[i+1]) {
				i++
			}
		default:
			atScalar = false
		}
		prev = c
		if d := 2*levels + 2*dashes + flow + quoteOpens; d > MaxNesting {
			return &Error{File: file, Line: lineNo, Msg: fmt.Sprintf("nested deeper than %d levels; an opsview configuration needs a handful", MaxNesting)}
		}
	}
	return nil
}

func isFlowIndicator(c byte) bool {
	return c == '[' || c == ']' || c == '{' || c == '}' || c == ','
}

func countBracket(c byte, flow *int) {
	switch c {
	case '[', '{':
		*flow++
	case ']', '}':
		if *flow > 0 {
			*flow--
		}
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// escaped says whether the byte at i follows an odd run of backslashes.
func escaped(data []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && data[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// indentOf is the column of data[i] on its line.
func indentOf(data []byte, i int) int {
	col := 0
	for j := i - 1; j >= 0 && data[j] != '\n'; j-- {
		col++
	}
	return col
}
