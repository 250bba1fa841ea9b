package haproxy

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/opsview/opsview/sources/internal/bounded"
)

// DefaultMaxAnswer bounds one answer from HAProxy (a `show stat` of about
// 100,000 servers fits).
const DefaultMaxAnswer = 32 << 20

// ErrTooLarge is returned (wrapped) when an answer exceeds the limit.
var ErrTooLarge = bounded.ErrTooLarge

// ObjType is the kind of row in `show stat` (the `type` column).
type ObjType int

// Row kinds, as HAProxy numbers them.
const (
	TypeFrontend ObjType = 0
	TypeBackend  ObjType = 1
	TypeServer   ObjType = 2
	TypeListener ObjType = 3
)

func (t ObjType) String() string {
	switch t {
	case TypeFrontend:
		return "frontend"
	case TypeBackend:
		return "backend"
	case TypeServer:
		return "server"
	case TypeListener:
		return "listener"
	}
	return "unknown"
}

// Field is a numeric column of `show stat` that opsview reads.
type Field int

// The numeric columns opsview reads, by HAProxy's names. Columns are found
// by name in the header, never by position.
const (
	Qcur Field = iota
	Qmax
	Scur
	Smax
	Slim
	Stot
	Bin
	Bout
	Dreq
	Dresp
	Ereq
	Econ
	Eresp
	Wretr
	Wredis
	Weight
	Act
	Bck
	Chkfail
	Chkdown
	Lastchg
	Downtime
	Type
	Rate
	CheckCode
	CheckDuration
	Hrsp1xx
	Hrsp2xx
	Hrsp3xx
	Hrsp4xx
	Hrsp5xx
	HrspOther
	ReqRate
	ReqTot
	CliAbrt
	SrvAbrt
	Lastsess
	Qtime
	Ctime
	Rtime
	Ttime
	CheckHealth
	ConnTot
	numFields
)

var fieldNames = [numFields]string{
	"qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout", "dreq", "dresp",
	"ereq", "econ", "eresp", "wretr", "wredis", "weight", "act", "bck", "chkfail", "chkdown",
	"lastchg", "downtime", "type", "rate", "check_code",
	"check_duration", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other", "req_rate", "req_tot", "cli_abrt",
	"srv_abrt", "lastsess", "qtime", "ctime", "rtime", "ttime", "check_health", "conn_tot",
}

func (f Field) String() string {
	if f >= 0 && f < numFields {
		return fieldNames[f]
	}
	return "?"
}

// FieldByName finds a numeric column by its HAProxy name.
func FieldByName(name string) (Field, bool) {
	for i, n := range fieldNames {
		if n == name {
			return Field(i), true
		}
	}
	return 0, false
}

// text columns
const (
	tPxname = iota
	tSvname
	tStatus
	tCheckStatus
	tLastChk
	tCheckDesc
	tAddr
	tMode
	tAlgo
	numText
)

var textNames = [numText]string{"pxname", "svname", "status", "check_status", "last_chk", "check_desc", "addr", "mode", "algo"}

// Row is one line of `show stat`: a frontend, backend, server or listener.
// Strings are as HAProxy sent them (not yet cleaned); numbers are NaN when
// the column is empty or absent.
type Row struct {
	Proxy       string // pxname
	Server      string // svname: FRONTEND, BACKEND or the server's name
	Type        ObjType
	Status      string
	CheckStatus string
	LastChk     string
	CheckDesc   string
	Addr        string
	Mode        string
	Algo        string
	V           [numFields]float64
}

// Get returns a numeric column (NaN when empty or absent).
func (r *Row) Get(f Field) float64 { return r.V[f] }

// Stats is a parsed `show stat` answer.
type Stats struct {
	Rows []Row
	// Columns is the header as HAProxy sent it (or the assumed 1.4 layout
	// when the answer had no header line).
	Columns []string
	// NoHeader is set when the answer had no header line.
	NoHeader bool
	// Skipped counts malformed rows that were left out (no proxy or
	// server name, or a line cut short at the end of the answer).
	Skipped int
	// BadValues counts numeric cells that did not parse (they read NaN).
	BadValues int
}

// legacyColumns is the column order of HAProxy 1.4 … 1.7 (static fields
// were append-only up to 2.5), used only for answers without a header.
var legacyColumns = strings.Split("pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses", ",")

// readAll reads r up to max bytes; more is ErrTooLarge.
func readAll(r io.Reader, max int64, what string) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxAnswer
	}
	b, err := bounded.ReadAll(r, max, 0)
	if errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("%s: %w (raise max_answer_mb, or filter with `show stat -1 <types> -1`)", what, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return b, nil
}

// ParseStat parses a `show stat` CSV answer (stats socket or HTTP `;csv`)
// read from r, at most DefaultMaxAnswer bytes.
func ParseStat(r io.Reader) (*Stats, error) { return ParseStatLimit(r, DefaultMaxAnswer) }

// ParseStatLimit is ParseStat with a size limit in bytes.
func ParseStatLimit(r io.Reader, max int64) (*Stats, error) {
	b, err := readAll(r, max, "show stat")
	if err != nil {
		return nil, err
	}
	return ParseStatBytes(b) // b is ours alone: no copy needed
}

// column says where a header column goes: a numeric Field (>= 0), a text
// column (-2 - index) or nowhere (-1).
type column int16

const skipCol column = -1

func lookupColumn(name string) column {
	for i, n := range textNames {
		if n == name {
			return column(-2 - i)
		}
	}
	if f, ok := FieldByName(name); ok {
		return column(f)
	}
	return skipCol
}

// ParseStatBytes parses a `show stat` answer held in memory. The text
// fields of the rows point into b (no copy): b must not change afterwards.
func ParseStatBytes(b []byte) (*Stats, error) {
	return parseStat(unsafe.String(unsafe.SliceData(b), len(b)), nil)
}

// ParseStatReuse is ParseStatBytes writing into the rows of an earlier
// result (which it overwrites): a poller parsing every second then
// allocates nothing once its rows are big enough.
func ParseStatReuse(prev *Stats, b []byte) (*Stats, error) {
	var rows []Row
	if prev != nil {
		rows = prev.Rows[:0]
	}
	return parseStat(unsafe.String(unsafe.SliceData(b), len(b)), rows)
}

func parseStat(s string, rows []Row) (*Stats, error) {
	st := &Stats{}
	pos := 0
	// first non-blank line: the header, or data of a headerless answer
	var cols []column
	for pos < len(s) {
		line, next := nextLine(s, pos)
		if strings.TrimSpace(line) == "" {
			pos = next
			continue
		}
		h := line
		switch {
		case strings.HasPrefix(h, "#"):
			h = strings.TrimLeft(h[1:], " ")
		case strings.HasPrefix(h, "pxname,"):
		default:
			// a headerless answer (1.4-era tools strip it) has 33+ columns
			if strings.Count(h, ",") < 32 {
				return nil, fmt.Errorf("not a show stat answer (first line %q): is this a stats socket or a `;csv` stats URL?", clip(h, 80))
			}
			st.NoHeader = true
			st.Columns = legacyColumns
			cols = columnsOf(legacyColumns)
			h = ""
		}
		if h != "" {
			st.Columns = splitHeader(h)
			cols = columnsOf(st.Columns)
			pos = next
		}
		break
	}
	if cols == nil {
		return nil, errors.New("empty show stat answer (no header, no rows): is the stats socket answering for the right process?")
	}
	hasType := false
	last := 0 // index of the last wanted column: stop splitting there
	for i, c := range cols {
		if c != skipCol {
			last = i
		}
		if c == column(Type) {
			hasType = true
		}
	}
	if need := strings.Count(s[pos:], "\n") + 1; cap(rows) >= need {
		st.Rows = rows[:0]
	} else {
		st.Rows = make([]Row, 0, need)
	}
	var blank Row
	for i := range blank.V {
		blank.V[i] = math.NaN()
	}
	var fields []string // only for quoted lines
	for pos < len(s) {
		line, next := nextLine(s, pos)
		complete := next > pos+len(line) // the line ended with '\n'
		pos = next
		if len(line) == 0 || line == "\r" {
			continue
		}
		if !complete {
			// an answer cut short: the last line may miss columns
			st.Skipped++
			continue
		}
		st.Rows = st.Rows[:len(st.Rows)+1]
		row := &st.Rows[len(st.Rows)-1]
		*row = blank
		if strings.IndexByte(line, '"') >= 0 {
			fields = splitQuoted(line, fields[:0])
			for i, f := range fields {
				if i > last || i >= len(cols) {
					break // more fields than the header named
				}
				st.set(row, cols[i], f)
			}
		} else {
			if line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			// a plain byte loop beats IndexByte on fields this short
			col, start := 0, 0
			for j := 0; j <= len(line); j++ {
				if j < len(line) && line[j] != ',' {
					continue
				}
				if col < len(cols) {
					if c := cols[col]; c >= 0 {
						if j > start {
							// inline fast path for the plain integers HAProxy prints
							var n int64
							k := start
							for ; k < j && k-start < 18; k++ {
								d := line[k] - '0'
								if d > 9 {
									break
								}
								n = n*10 + int64(d)
							}
							if k == j {
								row.V[c] = float64(n)
							} else if v, ok := parseNum(line[start:j]); ok {
								row.V[c] = v
							} else {
								st.BadValues++
							}
						}
					} else if c != skipCol {
						st.set(row, c, line[start:j])
					}
				}
				col++
				if col > last {
					break
				}
				start = j + 1
			}
		}
		if row.Proxy == "" || row.Server == "" {
			st.Rows = st.Rows[:len(st.Rows)-1]
			st.Skipped++
			continue
		}
		t := row.V[Type]
		if !hasType || math.IsNaN(t) {
			switch row.Server {
			case "FRONTEND":
				t = float64(TypeFrontend)
			case "BACKEND":
				t = float64(TypeBackend)
			default:
				t = float64(TypeServer)
			}
		}
		row.Type = ObjType(t)
	}
	return st, nil
}

func (st *Stats) set(row *Row, c column, f string) {
	switch {
	case c == skipCol:
	case c >= 0:
		if f == "" {
			return
		}
		v, ok := parseNum(f)
		if !ok {
			st.BadValues++
			return
		}
		row.V[c] = v
	default:
		switch int(-2 - c) {
		case tPxname:
			row.Proxy = f
		case tSvname:
			row.Server = f
		case tStatus:
			row.Status = f
		case tCheckStatus:
			row.CheckStatus = f
		case tLastChk:
			row.LastChk = f
		case tCheckDesc:
			row.CheckDesc = f
		case tAddr:
			row.Addr = f
		case tMode:
			row.Mode = f
		case tAlgo:
			row.Algo = f
		}
	}
}

// parseNum reads the integers HAProxy prints without strconv's
// allocations; anything else falls back to ParseFloat.
func parseNum(f string) (float64, bool) {
	neg := false
	i := 0
	if f[0] == '-' {
		neg = true
		i = 1
		if len(f) == 1 {
			return 0, false
		}
	}
	if len(f)-i <= 18 {
		var n int64
		for ; i < len(f); i++ {
			c := f[i]
			if c < '0' || c > '9' {
				goto slow
			}
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return float64(n), true
	}
slow:
	v, err := strconv.ParseFloat(f, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func nextLine(s string, pos int) (string, int) {
	i := strings.IndexByte(s[pos:], '\n')
	if i < 0 {
		return s[pos:], len(s)
	}
	return s[pos : pos+i], pos + i + 1
}

func splitHeader(h string) []string {
	h = strings.TrimRight(h, "\r")
	parts := strings.Split(h, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	// the trailing comma leaves one empty name
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

func columnsOf(names []string) []column {
	cols := make([]column, len(names))
	seen := map[column]bool{}
	for i, n := range names {
		c := lookupColumn(n)
		if c != skipCol && seen[c] {
			c = skipCol // a repeated name: the first one wins
		}
		seen[c] = true
		cols[i] = c
	}
	return cols
}

// splitQuoted splits a CSV line whose fields may be quoted ("a,b", "a""b").
func splitQuoted(line string, out []string) []string {
	line = strings.TrimRight(line, "\r")
	for {
		if len(line) > 0 && line[0] == '"' {
			var b strings.Builder
			i := 1
			for i < len(line) {
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(line[i])
				i++
			}
			out = append(out, b.String())
			// skip to the next comma (garbage after a closing quote is dropped)
			j := strings.IndexByte(line[i:], ',')
			if j < 0 {
				return out
			}
			line = line[i+j+1:]
			continue
		}
		j := strings.IndexByte(line, ',')
		if j < 0 {
			return append(out, line)
		}
		out = append(out, line[:j])
		line = line[j+1:]
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
