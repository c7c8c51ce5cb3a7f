package loggen

import (
	"strconv"
	"strings"
)

// stackContext is where a stack trace's thread came from.
type stackContext uint8

const (
	ctxHTTP stackContext = iota
	ctxConsumer
	ctxJob
)

// stackSig is one stack trace an app's code throws, again and again: the
// frames are fixed, the messages vary.
type stackSig struct {
	ctx    stackContext
	header tmpl   // the log message on the first line
	logger string // abbreviated logger, c.k.trading.web.OrderController
	exc    *exceptionSpec
	excMsg tmpl
	frames string // "\n\tat ..." lines, maybe a "Caused by:" section
}

var stackHeaders = [...][]string{
	ctxHTTP: {
		"Servlet.service() for servlet [dispatcherServlet] threw exception",
		"transaction failed",
		"Unhandled exception processing request {method} {path}",
		"Error while placing order {order_id}",
	},
	ctxConsumer: {
		"Listener method threw exception for topic {topic}",
		"transaction failed while consuming record at offset {offset}",
	},
	ctxJob: {
		"Scheduled job {job} failed",
		"Unexpected error occurred in scheduled task",
	},
}

// buildStacks creates the stack traces of one Java app.
func buildStacks(r rng, pkg string) []stackSig {
	n := r.between(4, 8)
	out := make([]stackSig, n)
	for i := range out {
		ctx := stackContext(r.intn(3))
		if r.chance(500) {
			ctx = ctxHTTP
		}
		h := stackHeaders[ctx]
		exc := &exceptions[r.intn(len(exceptions))]
		layer, class := pickStr(r, javaLayers), pickStr(r, javaClasses)
		out[i] = stackSig{
			ctx:    ctx,
			header: compile(h[r.intn(len(h))], i),
			logger: "c.k." + pkg + "." + layer + "." + class,
			exc:    exc,
			excMsg: compile(exc.msgs[r.intn(len(exc.msgs))], i),
			frames: buildFrames(r, pkg, ctx, exc),
		}
	}
	return out
}

func appFrame(r rng, sb *strings.Builder, pkg string) {
	class := pickStr(r, javaClasses)
	sb.WriteString("\n\tat com.kubemate.")
	sb.WriteString(pkg)
	sb.WriteByte('.')
	sb.WriteString(pickStr(r, javaLayers))
	sb.WriteByte('.')
	sb.WriteString(class)
	sb.WriteByte('.')
	sb.WriteString(pickStr(r, javaMethods))
	sb.WriteByte('(')
	sb.WriteString(class)
	sb.WriteString(".java:")
	sb.WriteString(strconv.Itoa(r.between(30, 900)))
	sb.WriteByte(')')
}

// buildFrames renders the frame lines of a stack: the throwing library, the
// app's own frames with a Spring proxy between them, the framework below,
// and sometimes a cause. The entry has 10 to 40 lines in all.
func buildFrames(r rng, pkg string, ctx stackContext, exc *exceptionSpec) string {
	var sb strings.Builder
	lines := 2 // header and exception line
	for _, f := range exc.lib {
		sb.WriteString("\n\tat ")
		sb.WriteString(f)
		lines++
	}
	nApp := r.between(3, 8)
	for i := range nApp {
		appFrame(r, &sb, pkg)
		lines++
		if i == nApp/2 && r.chance(600) {
			for _, f := range proxyFrames {
				sb.WriteString("\n\tat ")
				sb.WriteString(f)
			}
			lines += len(proxyFrames)
		}
	}
	bottom := [...][]string{ctxHTTP: httpFrames, ctxConsumer: consumerFrames, ctxJob: jobFrames}[ctx]
	bottom = bottom[r.intn(len(bottom)/2):]
	if lines+len(bottom) > 36 {
		bottom = bottom[lines+len(bottom)-36:]
	}
	for _, f := range bottom {
		sb.WriteString("\n\tat ")
		sb.WriteString(f)
	}
	lines += len(bottom)
	if lines <= 34 && r.chance(500) {
		cause := &exceptions[r.intn(len(exceptions))]
		if cause == exc {
			cause = &exceptions[(r.intn(len(exceptions)-1)+1+exceptionIndex(exc))%len(exceptions)]
		}
		sb.WriteString("\nCaused by: ")
		sb.WriteString(cause.class)
		sb.WriteString(": ")
		var b []byte
		b = appendMsg(b, r, new(compile(cause.msgs[0], 0)), levelError)
		sb.Write(b)
		lines++
		k := 0
		for _, f := range cause.lib {
			if lines >= 38 {
				break
			}
			sb.WriteString("\n\tat ")
			sb.WriteString(f)
			lines++
			k++
		}
		if k == 0 {
			appFrame(r, &sb, pkg)
			lines++
		}
		sb.WriteString("\n\t... ")
		sb.WriteString(strconv.Itoa(len(bottom) + nApp))
		sb.WriteString(" more")
		lines++
	}
	for ; lines < 10; lines++ {
		appFrame(r, &sb, pkg)
	}
	return sb.String()
}

// javaStackLine writes a Spring Boot console line followed by a stack trace.
func (g *Generator) javaStackLine(b []byte, s *source, lvl level, idNum bool) []byte {
	sig := &s.stacks[g.r.intn(len(s.stacks))]
	r := g.r
	b = g.clk.rfc3339(b, 3)
	if lvl == levelError {
		b = append(b, " ERROR 1 --- ["...)
	} else {
		b = append(b, "  WARN 1 --- ["...)
	}
	b = append(b, s.appName...)
	b = append(b, "] ["...)
	switch sig.ctx {
	case ctxHTTP:
		b = append(b, "nio-8080-exec-"...)
		b = strconv.AppendInt(b, int64(1+r.intn(200)), 10)
	case ctxConsumer:
		b = append(b, "ntainer#0-0-C-1"...)
	case ctxJob:
		b = append(b, "   scheduling-1"...)
	}
	b = append(b, "] "...)
	if sig.ctx != ctxJob {
		id, _ := g.request(s)
		b = append(b, '[')
		b = append(b, id...)
		b = append(b, '-')
		b = appendHex(b, r.u64(), 16)
		b = append(b, "] "...)
	}
	b = append(b, sig.logger...)
	b = append(b, " : "...)
	b = appendMsg(b, r, &sig.header, lvl)
	if idNum {
		b = append(b, " id_number="...)
		b = appendIDNumber(b, r)
	}
	b = append(b, '\n')
	b = append(b, sig.exc.class...)
	b = append(b, ": "...)
	b = appendMsg(b, r, &sig.excMsg, lvl)
	b = append(b, sig.frames...)
	return b
}

func exceptionIndex(e *exceptionSpec) int {
	for i := range exceptions {
		if &exceptions[i] == e {
			return i
		}
	}
	return 0
}
