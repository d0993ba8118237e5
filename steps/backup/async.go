package backup

import (
	"io"
	"sync"
)

// asyncReader reads ahead from r in its own goroutine, so that the stage
// feeding it (reading, hashing and decrypting the archive) runs on one
// core while the stage reading from it (decompression) runs on another.
// Close stops the goroutine.
type asyncReader struct {
	ch   chan []byte
	pool chan []byte
	done chan struct{}
	gone chan struct{} // closed when the goroutine has returned
	once sync.Once
	err  error // the reader's final error, valid once ch is closed
	cur  []byte
	buf  []byte // the buffer cur points into, returned to pool when spent
	end  error
}

func newAsyncReader(r io.Reader, size, depth int) *asyncReader {
	a := &asyncReader{ch: make(chan []byte, depth), pool: make(chan []byte, depth+1), done: make(chan struct{}), gone: make(chan struct{})}
	for i := 0; i < depth+1; i++ {
		a.pool <- make([]byte, size)
	}
	go func() {
		defer close(a.gone)
		defer close(a.ch)
		for {
			var buf []byte
			select {
			case buf = <-a.pool:
			case <-a.done:
				return
			}
			n := 0
			var err error
			for n < len(buf) && err == nil {
				var k int
				k, err = r.Read(buf[n:])
				n += k
			}
			if n > 0 {
				select {
				case a.ch <- buf[:n]:
				case <-a.done:
					return
				}
			}
			if err != nil {
				a.err = err
				return
			}
		}
	}()
	return a
}

func (a *asyncReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.end != nil {
			return 0, a.end
		}
		if a.buf != nil {
			a.pool <- a.buf[:cap(a.buf)]
			a.buf = nil
		}
		b, ok := <-a.ch
		if !ok {
			a.end = a.err // safe: written before close(ch)
			if a.end == nil {
				a.end = io.EOF
			}
			return 0, a.end
		}
		a.cur, a.buf = b, b
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops the read-ahead goroutine and waits for it, so that the
// underlying reader is free for the caller again.
func (a *asyncReader) Close() {
	a.once.Do(func() { close(a.done) })
	<-a.gone
}
