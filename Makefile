# 10kthreads: the C server, the Go client and the Go async reference.
# `make` builds bin/, `make test` runs every test, `make experiment` runs
# the side-by-side experiment and writes results/.

CC	?= cc
CFLAGS	?= -O2
CFLAGS	+= -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread
BSD_CFLAGS = -isystem /usr/include/bsd -DLIBBSD_OVERLAY
LDLIBS	= -pthread -lbsd
GO	?= go
SHELL	= /bin/bash

SRCS	= 10kthreads.c counters.c echo.c net.c procs.c rusage.c \
	  model_thread.c model_prethread.c model_pool.c model_prefork.c \
	  model_fork.c model_iterative.c model_epoll.c
OBJS	= $(SRCS:%.c=obj/%.o)
GOBINS	= bin/client bin/ref_async_server bin/experiment

all: bin/10kthreads $(GOBINS)

prereqs:
	@CC=$(CC) GO=$(GO) scripts/prereqs

obj/%.o: %.c kit.h | obj prereqs
	$(CC) $(CFLAGS) $(BSD_CFLAGS) -c $< -o $@

bin/10kthreads: $(OBJS) | bin
	$(CC) $(CFLAGS) $(OBJS) -o $@ $(LDLIBS)

# The go command keeps its own cache, so it decides what to rebuild.
bin/client bin/ref_async_server: | bin prereqs
	$(GO) build -o $@ ./$(notdir $@)

bin/experiment: | bin prereqs
	$(GO) build -o $@ ./scripts/experiment

bin obj:
	mkdir -p $@

test: all
	$(GO) vet ./...
	GO=$(GO) scripts/run-tests

experiment: all
	bin/experiment

clean:
	rm -rf bin obj

.PHONY: all prereqs test experiment clean $(GOBINS)
