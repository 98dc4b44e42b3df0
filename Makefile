# 10kthreads: the C server, the Go client and the Go async reference.
# `make` builds bin/, `make test` runs every test, `make experiment` runs
# the side-by-side experiment and writes results/.

CC	?= cc
CFLAGS	?= -O2
# Always on, even when CFLAGS is given on the command line.
KIT_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
	     -isystem /usr/include/bsd -DLIBBSD_OVERLAY -iquote core
LDLIBS	= -pthread -lbsd -luring
GO	?= go
SHELL	= /bin/bash

# The entry point and the report at the top, the shared core in core/, and
# every server design in models/: a new design is one file there (or a
# folder, as io_uring's) plus its entry in core/models.c.
SRCS	= 10kthreads.c rusage.c $(wildcard core/*.c) \
	  $(wildcard models/*.c) $(wildcard models/*/*.c)
HDRS	= $(wildcard core/*.h) $(wildcard models/*/*.h)
OBJDIR	?= obj
SERVER	?= bin/10kthreads
OBJS	= $(SRCS:%.c=$(OBJDIR)/%.o)
GOBINS	= bin/client bin/ref_async_server bin/experiment bin/hostprobe bin/testhosts

all: $(SERVER) $(GOBINS)

prereqs:
	@CC=$(CC) GO=$(GO) scripts/prereqs

$(OBJDIR)/%.o: %.c $(HDRS) | prereqs
	@mkdir -p $(dir $@)
	$(CC) $(KIT_CFLAGS) $(CFLAGS) -c $< -o $@

$(SERVER): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(KIT_CFLAGS) $(CFLAGS) $(OBJS) -o $@ $(LDLIBS)

# The go command keeps its own cache, so it decides what to rebuild.
$(GOBINS): | bin prereqs
	$(GO) build -o $@ ./cmd/$(notdir $@)

bin:
	mkdir -p $@

test: all lint
	GO=$(GO) scripts/run-tests

# go vet, gofmt, staticcheck (pinned in go.mod) and shellcheck.
lint: | prereqs
	@scripts/prereqs lint
	$(GO) vet ./...
	GO=$(GO) scripts/lint

experiment: all
	bin/experiment

# The fixed benchmark with its performance targets, 100,000 connections
# (TUNE=1, as root: raise the sysctls the run needs and restore them
# afterwards), every server model side by side (the seed article's table),
# and the keep-alive question; DELAY= sets the last two's request delay.
bench: all
	bin/experiment -bench

c100k: all
	bin/experiment -c100k $(if $(filter 1,$(TUNE)),-tune)

# A million connections for epoll, uring and the Go reference, and as
# many as memory allows with a thread each (TUNE=1 as for c100k).
c1m: all
	bin/experiment -c1m $(if $(filter 1,$(TUNE)),-tune)

# How many connections each server can hold on this machine and what
# stops it: predicted, then held in steps up to the prediction or the
# first failure (TUNE=1 as for c100k; BUDGET=20m bounds the steps' time).
ceiling: all
	bin/experiment -ceiling $(if $(filter 1,$(TUNE)),-tune) $(if $(BUDGET),-budget $(BUDGET))

models: all
	bin/experiment -models

keepalive: all
	bin/experiment -keepalive

# The docs' measured tables come from docs/results, never typed by hand:
# RESULTS=results/X (one or more directories) writes their pages there,
# and every quoted table of README.md and docs/ is rewritten from them.
docs: bin/experiment
	bin/experiment -docs $(RESULTS)

# The C server built with a sanitizer, in its own directories, and the
# integration suite run against it (tests/ reads TENKTHREADS_BIN).
SAN_asan  = -fsanitize=address -fno-omit-frame-pointer
SAN_ubsan = -fsanitize=undefined -fno-sanitize-recover=all
SAN_tsan  = -fsanitize=thread

# The first report ends the server with status 99, so the test that drove
# it fails; the tests also fail on a report on the server's stderr (from a
# worker process, or a server they killed) and show that stderr.
SANENV_asan  = ASAN_OPTIONS=halt_on_error=1:exitcode=99:detect_leaks=1
SANENV_ubsan = UBSAN_OPTIONS=halt_on_error=1:exitcode=99:print_stacktrace=1
SANENV_tsan  = TSAN_OPTIONS=halt_on_error=1:exitcode=99:second_deadlock_stack=1

asan ubsan tsan: bin/client bin/ref_async_server
	$(MAKE) OBJDIR=obj/$@ SERVER=bin/$@/10kthreads \
	    CFLAGS="-O1 -g $(SAN_$@)" bin/$@/10kthreads
	$(SANENV_$@) TENKTHREADS_BIN=$(CURDIR)/bin/$@/10kthreads \
	    TENKTHREADS_SANITIZER=$@ GO=$(GO) scripts/run-tests ./tests/

# The C server under valgrind's memcheck: a few hundred connections, then
# SIGINT; any memory error or definite leak fails (scripts/memcheck).
# uring is listed so that its skip, and why, shows in the output.
memcheck: bin/client
	$(MAKE) OBJDIR=obj/memcheck SERVER=bin/memcheck/10kthreads \
	    CFLAGS="-O1 -g" bin/memcheck/10kthreads
	scripts/memcheck bin/memcheck/10kthreads bin/client thread epoll uring \
	    poll select dispatch

# About a million connections, a few thousand open at a time: resident
# memory, descriptors and threads must not grow (MODEL=epoll and so on;
# SOAK_CONNS, SOAK_TOTAL, SOAK_LIMIT, SOAK_RSS_KIB, SOAK_RSS_PCT resize it).
soak: all
	bin/experiment -soak $(MODEL)

# Test hosts out of network namespaces on this machine (a server, two
# clients, a control host, each with its own sshd), checked over real ssh:
# the kit's echo from every client host, and a client's link going down
# during a hold. Needs root and openssh-server (installed here as root).
testhosts: all
	@scripts/prereqs testhosts
	bin/testhosts

clean:
	rm -rf bin obj

.PHONY: all prereqs test lint docs experiment bench c100k c1m ceiling models keepalive clean asan ubsan \
	tsan memcheck soak testhosts \
	$(GOBINS)
