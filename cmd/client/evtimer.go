package main

// The event loop's timers. A loop sleeps in epoll_wait until the earliest
// of them; none of them is a file descriptor.
//
// Connect and round-trip timeouts each have one duration for every
// connection, so arming them in time order keeps each list sorted by
// deadline: a timeout is armed and disarmed in O(1), and only the list's
// head can be due. The open loop's sends are due at times of their own,
// so they wait in a min-heap.

// deadlineList is the connections waiting under one timeout, oldest
// first, linked through their prev and next fields.
type deadlineList struct {
	head, tail int32
	after      int64 // the timeout, ns
}

func newDeadlineList(after int64) deadlineList {
	return deadlineList{head: -1, tail: -1, after: after}
}

// push arms c's timeout: c.start plus the list's timeout.
func (q *deadlineList) push(cs []conn, c *conn) {
	c.prev, c.next = q.tail, -1
	if q.tail >= 0 {
		cs[q.tail].next = c.idx
	} else {
		q.head = c.idx
	}
	q.tail = c.idx
	c.flags |= fListed
}

// remove disarms c's timeout, if armed.
func (q *deadlineList) remove(cs []conn, c *conn) {
	if c.flags&fListed == 0 {
		return
	}
	if c.prev >= 0 {
		cs[c.prev].next = c.next
	} else {
		q.head = c.next
	}
	if c.next >= 0 {
		cs[c.next].prev = c.prev
	} else {
		q.tail = c.prev
	}
	c.prev, c.next = -1, -1
	c.flags &^= fListed
}

// due is the connection whose timeout is earliest, and when it falls;
// nil when the list is empty.
func (q *deadlineList) due(cs []conn) (*conn, int64) {
	if q.head < 0 {
		return nil, 0
	}
	c := &cs[q.head]
	return c, c.start + q.after
}

// paceItem is one connection waiting for its next send in the open loop.
type paceItem struct {
	when int64 // the send's intended time, ns
	c    int32
}

// paceHeap is a min-heap of sends by intended time. container/heap would
// box every item pushed into an interface, an allocation per message.
type paceHeap []paceItem

func (h *paceHeap) push(when int64, c int32) {
	*h = append(*h, paceItem{when, c})
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].when <= s[i].when {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

// pop removes the earliest send and returns its connection.
func (h *paceHeap) pop() int32 {
	s := *h
	top := s[0].c
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(s) && s[l].when < s[m].when {
			m = l
		}
		if r := l + 1; r < len(s) && s[r].when < s[m].when {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
