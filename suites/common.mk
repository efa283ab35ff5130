# Included by every suite's Makefile. The harness runs
#   make -C suites/<name> O=<out dir> KHDR=<kernel headers_install dir>
# and copies O/ into the guest at /kl/suites/<name>/.
# Every *.c (not *.bpf.c) is one static program; *.bpf.c become BPF objects;
# *.sh are copied as they are. Programs build against the tested kernel's own
# uAPI headers (KHDR) first, then liburing and libc.
O ?= $(CURDIR)/out
KHDR ?= /usr
CC ?= gcc
CLANG ?= clang
SUITE_DIR := $(CURDIR)
INC := $(SUITE_DIR)/../include
CFLAGS ?= -O2 -g0
CFLAGS += -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -isystem $(KHDR)/include -I$(INC)
LDFLAGS += -static
LDLIBS ?= -luring -lpthread

C_SRCS := $(filter-out %.bpf.c,$(wildcard *.c))
BPF_SRCS := $(wildcard *.bpf.c)
SCRIPTS := $(wildcard *.sh)
PROGS := $(patsubst %.c,$(O)/%,$(C_SRCS))
BPF_OBJS := $(patsubst %.bpf.c,$(O)/%.bpf.o,$(BPF_SRCS))
COPIED := $(patsubst %,$(O)/%,$(SCRIPTS) manifest.json)

all: $(PROGS) $(BPF_OBJS) $(COPIED)

$(O):
	mkdir -p $@

$(O)/%: %.c $(wildcard $(INC)/*.h) $(wildcard *.h) | $(O)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

$(O)/%.bpf.o: %.bpf.c | $(O)
	$(CLANG) -O2 -g -target bpf -D__TARGET_ARCH_x86 -isystem $(KHDR)/include -I$(INC) -c -o $@ $<

$(O)/%.sh: %.sh | $(O)
	install -m 0755 $< $@

$(O)/manifest.json: manifest.json | $(O)
	install -m 0644 $< $@

clean:
	rm -rf $(O)

.PHONY: all clean
