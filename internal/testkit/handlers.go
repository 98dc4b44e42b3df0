package testkit

import (
	"io"
	"net"
)

// Echo is a handler for Serve: it writes back everything it reads, until
// the peer closes.
func Echo(c net.Conn) { _, _ = io.Copy(c, c) }

// EchoEach is a handler for Serve: an echo that calls each on every chunk
// it has read, with the chunk's offset in the stream, before it writes the
// chunk back. each may change the chunk or take its time.
func EchoEach(each func(chunk []byte, off int64)) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		var off int64
		for {
			n, err := c.Read(buf)
			if n > 0 {
				each(buf[:n], off)
				off += int64(n)
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// FlipByte is an echo for Serve that corrupts one byte, the one at offset
// i of the stream, by flipping its 0x20 bit (the case of a letter), so
// that a client that verifies its echoes has one to catch.
func FlipByte(i int64) func(net.Conn) {
	return EchoEach(func(chunk []byte, off int64) {
		if off <= i && i < off+int64(len(chunk)) {
			chunk[i-off] ^= 0x20
		}
	})
}
