/*
 * loadgen: one bounded RTP trial through a relay, for bench/run.ts.
 *
 * The harness does the ng signalling; this program only moves packets, so Node never sits on the
 * measured path. Protocol on stdio:
 *   1. it binds K sockets for the callers (side A) and K for the callees (side B) on ephemeral
 *      loopback ports and prints "A p0 .. pK-1" and "B p0 .. pK-1"; call c uses socket c % K on
 *      each side (those are the ports the harness puts in the offer/answer SDP);
 *   2. it reads one line per call, "PA PB": the relay port A sends to (from the answer reply) and
 *      the relay port B sends to (from the offer reply);
 *   3. it sends 172-byte RTP (12 header + 160 payload) both ways at --rate packets/s in total,
 *      spread evenly over the 2*calls streams, for --warmup + --window seconds, keeps receiving
 *      for --drain more seconds, prints one JSON line and exits.
 * With --srtp-key (built with -DWITH_SRTP and libsrtp2) side A speaks SRTP (AES_CM_128_HMAC_SHA1_80):
 * it protects what it sends with that key and each call's input line carries a third field, the
 * hex key the relay encrypts towards that caller with; side B stays plain, so every packet costs the
 * relay one SRTP transform (SRTP <-> RTP bridging).
 * With --g711 side A sends PCMU (payload type 0) and side B PCMA (8), for a relay that converts between
 * them: the stamp is written as G.711 samples (one per 4 bits, on 16 levels far apart) that survive a
 * conversion through linear PCM, and read back by the payload type the packet arrives with.
 * With --opus-payload HEX side A sends PCMU (a 1 kHz tone) and side B that Opus frame (payload type
 * 96, 20 ms), for a relay that converts between them. A lossy codec keeps no stamp: each call gets
 * its own socket on each side (--sockets must equal --calls), the send time of every packet is kept
 * by its sequence number, and a packet that arrives is matched by its sequence number, which both
 * rtpbridge and rtpengine carry over when they convert one packet into one. Sending goes on through
 * the drain (those packets are out of the window), for relays that hold a frame back.
 * Loss and latency count only packets *sent* inside the window. Latency is the kernel receive
 * timestamp (SO_TIMESTAMPNS) minus the send time carried in the payload, so a generator that
 * drains its sockets late does not inflate it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#ifdef WITH_SRTP
#include <srtp2/srtp.h>
#endif

#define PKT_LEN 172
#define SRTP_ROOM 16 /* the 80-bit tag, with room to spare */
#define KEY_LEN 30   /* AES-128 key + 112-bit salt */
#define RTP_HDR 12
#define MAGIC 0x52544231u /* "RTB1" */
#define BATCH 64
#define TICK_NS 100000L /* pacing tick: 100 us keeps bursts per stream at one packet */
#define MAX_PER_WAKE 8192 /* a generator that fell behind still services its receive side */
#define SOCK_BUF (8 << 20)
/* Latency histogram: 0.1 us buckets up to 20 ms, then 10 us buckets up to 2 s, then overflow. */
#define FINE_NS 100
#define FINE_N 200000
#define COARSE_NS 10000
#define COARSE_N 198000

struct payload {
	uint32_t magic;
	uint32_t trial;
	uint32_t stream;
	uint32_t in_window;
	int64_t sent_ns; /* CLOCK_REALTIME, the clock SO_TIMESTAMPNS uses */
};

struct stream {
	uint32_t id;              /* 2 * call + direction (0 = A->B), carried in the payload */
	int fd;                   /* socket it leaves from */
	struct sockaddr_in to;    /* relay port it goes to */
	uint16_t seq;
	uint32_t ts;
};

static struct {
	int calls, sockets, relay_pid;
	double rate, warmup, window, drain;
	uint32_t trial;
	int avoid_lo, avoid_hi;
	int srtp;
	unsigned char srtp_key[KEY_LEN];
	int g711;
	unsigned char opus[1500];
	int opus_len;
} cfg = { .calls = 100, .sockets = 16, .rate = 10000, .warmup = 0.5, .window = 2, .drain = 0.3 };

static uint32_t hist_fine[FINE_N], hist_coarse[COARSE_N];
static uint64_t hist_over, rx_window, rx_other, rx_bad, max_ns;
/* --opus-payload: when each stream's packets left, by sequence number (-1: outside the window, 0: never). */
static int64_t *sent_at;
static unsigned char pcmu_tone[PKT_LEN - RTP_HDR];

static void die(const char *what) {
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int unhex(const char *hex, unsigned char *out, int len) {
	for (int i = 0; i < len; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1) return -1;
	return hex[2 * len] == 0 ? 0 : -1;
}

#ifdef WITH_SRTP
static srtp_t srtp_tx, *srtp_rx; /* one sender for all of side A; one receiver per call (the relay keys each) */

static srtp_t srtp_session(const unsigned char *key, srtp_ssrc_type_t direction) {
	srtp_policy_t policy;
	memset(&policy, 0, sizeof policy);
	srtp_crypto_policy_set_rtp_default(&policy.rtp);
	srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
	policy.ssrc.type = direction;
	policy.key = (unsigned char *)key;
	policy.window_size = 128;
	srtp_t session;
	if (srtp_create(&session, &policy) != srtp_err_status_ok) { fprintf(stderr, "loadgen: srtp_create failed\n"); exit(1); }
	return session;
}
#endif

/* G.711 of 16-bit linear samples, and back (ITU-T G.711 segments), for --g711. */
static unsigned char ulaw_of(int x) {
	int sign = x < 0 ? 0x80 : 0, m = (x < 0 ? -x : x);
	if (m > 32635) m = 32635;
	m += 0x84;
	int e = 7;
	for (int mask = 0x4000; !(m & mask) && e > 0; mask >>= 1) e--;
	return (unsigned char)~(sign | (e << 4) | ((m >> (e + 3)) & 0x0f));
}
static unsigned char alaw_of(int x) {
	int positive = x >= 0, m = (positive ? x : -x - 1) >> 3;
	if (m > 0xfff) m = 0xfff;
	int s = 0;
	while (s < 7 && m >= (0x20 << s)) s++;
	int step = (s < 2 ? m >> 1 : m >> s) & 0x0f;
	return (unsigned char)(((s << 4) | step) ^ (positive ? 0xd5 : 0x55));
}
static int linear_of_ulaw(unsigned char b) {
	int u = ~b & 0xff, m = ((((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4)) - 0x84;
	return u & 0x80 ? -m : m;
}
static int linear_of_alaw(unsigned char b) {
	int a = b ^ 0x55, e = (a & 0x70) >> 4, m = a & 0x0f;
	int v = e == 0 ? (m << 4) + 8 : ((m << 4) + 0x108) << (e - 1);
	return a & 0x80 ? v : -v;
}
#define G711_LEVEL 2800 /* between stamp levels: far beyond G.711's error at 21,000 (under 700) */

/* The stamp as G.711 samples of `pt` (0 PCMU, 8 PCMA), and silence after it. */
static void g711_write(unsigned char *payload, const struct payload *p, int pt) {
	const unsigned char *bytes = (const unsigned char *)p;
	for (int i = 0; i < PKT_LEN - RTP_HDR; i++) {
		int x = 0;
		if (i < (int)(2 * sizeof *p)) x = ((bytes[i / 2] >> (i % 2 ? 4 : 0)) & 0x0f) * G711_LEVEL - 15 * G711_LEVEL / 2;
		payload[i] = pt == 8 ? alaw_of(x) : ulaw_of(x);
	}
}

static void g711_read(const unsigned char *payload, struct payload *p, int pt) {
	unsigned char *bytes = (unsigned char *)p;
	memset(p, 0, sizeof *p);
	for (int i = 0; i < (int)(2 * sizeof *p); i++) {
		int x = pt == 8 ? linear_of_alaw(payload[i]) : linear_of_ulaw(payload[i]);
		int level = (x + 15 * G711_LEVEL / 2 + G711_LEVEL / 2) / G711_LEVEL;
		if (level < 0) level = 0;
		if (level > 15) level = 15;
		bytes[i / 2] |= (unsigned char)(level << (i % 2 ? 4 : 0));
	}
}

static int64_t now_ns(clockid_t clock) {
	struct timespec t;
	clock_gettime(clock, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void parse_args(int argc, char **argv) {
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--calls")) cfg.calls = atoi(v);
		else if (!strcmp(k, "--sockets")) cfg.sockets = atoi(v);
		else if (!strcmp(k, "--rate")) cfg.rate = atof(v);
		else if (!strcmp(k, "--warmup")) cfg.warmup = atof(v);
		else if (!strcmp(k, "--window")) cfg.window = atof(v);
		else if (!strcmp(k, "--drain")) cfg.drain = atof(v);
		else if (!strcmp(k, "--relay-pid")) cfg.relay_pid = atoi(v);
		else if (!strcmp(k, "--trial")) cfg.trial = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--avoid")) sscanf(v, "%d-%d", &cfg.avoid_lo, &cfg.avoid_hi);
		else if (!strcmp(k, "--g711")) cfg.g711 = atoi(v);
		else if (!strcmp(k, "--opus-payload")) {
			cfg.opus_len = (int)strlen(v) / 2;
			if (cfg.opus_len < 1 || cfg.opus_len > (int)sizeof cfg.opus || unhex(v, cfg.opus, cfg.opus_len)) { fprintf(stderr, "loadgen: --opus-payload takes 1 to 1500 hex bytes\n"); exit(2); }
		}
		else if (!strcmp(k, "--srtp-key")) {
#ifndef WITH_SRTP
			fprintf(stderr, "loadgen: built without libsrtp2, no --srtp-key\n");
			exit(2);
#endif
			if (unhex(v, cfg.srtp_key, KEY_LEN)) { fprintf(stderr, "loadgen: --srtp-key takes %d hex bytes\n", KEY_LEN); exit(2); }
			cfg.srtp = 1;
		}
		else { fprintf(stderr, "loadgen: unknown option %s\n", k); exit(2); }
	}
	if (cfg.calls < 1 || cfg.sockets < 1 || cfg.rate <= 0 || cfg.window <= 0) {
		fprintf(stderr, "loadgen: need --calls >= 1, --sockets >= 1, --rate > 0, --window > 0\n");
		exit(2);
	}
	if (cfg.sockets > cfg.calls) cfg.sockets = cfg.calls;
}

/*
 * Binds an ephemeral loopback port outside the relay's media range: the kernel's ephemeral range
 * overlaps it, and a generator socket sitting on a relay port would make the relay skip that port.
 * Rejected sockets stay open until the search ends so the kernel does not hand them out again.
 */
static int bind_outside_range(uint16_t *port) {
	int rejected[4096], nrejected = 0, fd = -1;
	while (nrejected < 4096) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fd < 0) die("socket");
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof a;
		if (bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len)) die("bind");
		*port = ntohs(a.sin_port);
		if (*port < cfg.avoid_lo || *port > cfg.avoid_hi) break;
		rejected[nrejected++] = fd;
		fd = -1;
	}
	for (int i = 0; i < nrejected; i++) close(rejected[i]);
	if (fd < 0) { fprintf(stderr, "loadgen: no ephemeral port outside %d-%d\n", cfg.avoid_lo, cfg.avoid_hi); exit(1); }
	int one = 1, buf = SOCK_BUF;
	/* FORCE variants exceed net.core.*mem_max when run as root; the plain ones are the fallback. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf)) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf)) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one)) die("SO_TIMESTAMPNS");
	return fd;
}

static void record_latency(int64_t ns) {
	if (ns < 0) ns = 0;
	if ((uint64_t)ns > max_ns) max_ns = (uint64_t)ns;
	if (ns < (int64_t)FINE_NS * FINE_N) hist_fine[ns / FINE_NS]++;
	else if (ns < (int64_t)FINE_NS * FINE_N + (int64_t)COARSE_NS * COARSE_N) hist_coarse[(ns - (int64_t)FINE_NS * FINE_N) / COARSE_NS]++;
	else hist_over++;
}

/* Upper edge of the bucket holding the q-quantile, in microseconds. */
static double percentile_us(double q) {
	uint64_t total = rx_window, rank = (uint64_t)(q * (double)total), seen = 0;
	if (total == 0) return 0;
	for (int i = 0; i < FINE_N; i++)
		if ((seen += hist_fine[i]) > rank) return (double)(i + 1) * FINE_NS / 1000.0;
	for (int i = 0; i < COARSE_N; i++)
		if ((seen += hist_coarse[i]) > rank) return ((double)FINE_NS * FINE_N + (double)(i + 1) * COARSE_NS) / 1000.0;
	return (double)max_ns / 1000.0;
}

/* Kernel receive time of a datagram (SO_TIMESTAMPNS), or now when the kernel gave none. */
static int64_t rx_time(struct msghdr *h) {
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec t;
			memcpy(&t, CMSG_DATA(c), sizeof t);
			return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
		}
	return now_ns(CLOCK_REALTIME);
}

/* --opus-payload: one packet of stream `stream`, matched to its send time by its sequence number. */
static void receive_counted(const unsigned char *b, unsigned len, int stream, int pt, struct msghdr *h) {
	if (len <= RTP_HDR || (b[1] & 0x7f) != pt || (pt == 0 && len != PKT_LEN)) { rx_bad++; return; }
	int64_t sent = sent_at[(size_t)stream * 65536 + (size_t)((b[2] << 8) | b[3])];
	if (sent == 0) { rx_bad++; return; }
	if (sent < 0) { rx_other++; return; }
	rx_window++;
	record_latency(rx_time(h) - sent);
}

/* Drains one socket; `expect_dir` is the direction (0 = A->B) whose packets may arrive on it, `sock` its index on its side. */
static void receive(int fd, int expect_dir, int sock) {
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov[BATCH];
	static char bufs[BATCH][PKT_LEN + SRTP_ROOM + 1];
	static char ctl[BATCH][CMSG_SPACE(sizeof(struct timespec))];
	for (int rounds = 0; rounds < 16; rounds++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof bufs[i] };
			msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1, .msg_control = ctl[i], .msg_controllen = sizeof ctl[i] };
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) return;
		for (int i = 0; i < n; i++) {
			struct payload p;
#ifdef WITH_SRTP
			if (cfg.srtp && expect_dir == 1) {
				/* B->A stream ids are odd: 2 * call + 1, carried in the SSRC. */
				uint32_t ssrc;
				memcpy(&ssrc, bufs[i] + 8, 4);
				uint32_t call = (ntohl(ssrc) - 0x10000u) / 2;
				int len = (int)msgs[i].msg_len;
				if (msgs[i].msg_len < RTP_HDR || call >= (uint32_t)cfg.calls || srtp_unprotect(srtp_rx[call], bufs[i], &len) != srtp_err_status_ok) { rx_bad++; continue; }
				msgs[i].msg_len = (unsigned)len;
			}
#endif
			if (cfg.opus_len) {
				/* With a socket per call: B->A arrives at A as PCMU (0), A->B at B as Opus (96). */
				receive_counted((unsigned char *)bufs[i], msgs[i].msg_len, 2 * sock + expect_dir, expect_dir ? 0 : 96, &msgs[i].msg_hdr);
				continue;
			}
			if (msgs[i].msg_len != PKT_LEN) { rx_bad++; continue; }
			if (cfg.g711) g711_read((unsigned char *)bufs[i] + RTP_HDR, &p, bufs[i][1] & 0x7f);
			else memcpy(&p, bufs[i] + RTP_HDR, sizeof p);
			if (p.magic != MAGIC || p.trial != cfg.trial || (p.stream & 1) != (uint32_t)expect_dir) { rx_bad++; continue; }
			if (!p.in_window) { rx_other++; continue; }
			rx_window++;
			record_latency(rx_time(&msgs[i].msg_hdr) - p.sent_ns);
		}
		if (n < BATCH) return;
	}
}

/* Sends `count` packets in stream order from `*next`, one sendmmsg per run of streams sharing a socket. */
static uint64_t send_due(struct stream *streams, int nstreams, int *next, int count, int in_window) {
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov[BATCH];
	static unsigned char bufs[BATCH][PKT_LEN + SRTP_ROOM];
	uint64_t sent = 0;
	while (count > 0) {
		int fd = streams[*next].fd, n = 0;
		int64_t stamp = now_ns(CLOCK_REALTIME);
		while (n < BATCH && n < count && streams[*next].fd == fd) {
			struct stream *s = &streams[*next];
			unsigned char *b = bufs[n];
			memset(b, 0, PKT_LEN);
			b[0] = 0x80; /* RTP v2, PT 0 (PCMU); with --g711 side B sends PCMA (8) */
			int pt = cfg.g711 && (s->id & 1) ? 8 : 0;
			b[1] = (unsigned char)pt;
			uint16_t seq = htons(s->seq++);
			uint32_t ts = htonl(s->ts), ssrc = htonl(0x10000u + s->id);
			s->ts += cfg.opus_len && (s->id & 1) ? 960 : 160; /* 20 ms at 8 kHz, or at Opus's 48 kHz */
			memcpy(b + 2, &seq, 2);
			memcpy(b + 4, &ts, 4);
			memcpy(b + 8, &ssrc, 4);
			struct payload p = { MAGIC, cfg.trial, s->id, (uint32_t)in_window, stamp };
			int len = PKT_LEN;
			if (cfg.opus_len && (s->id & 1)) {
				b[1] = 96;
				memcpy(b + RTP_HDR, cfg.opus, (size_t)cfg.opus_len);
				len = RTP_HDR + cfg.opus_len;
			}
			else if (cfg.opus_len) memcpy(b + RTP_HDR, pcmu_tone, sizeof pcmu_tone);
			if (cfg.opus_len) sent_at[(size_t)s->id * 65536 + ntohs(seq)] = in_window ? stamp : -1;
			else if (cfg.g711) g711_write(b + RTP_HDR, &p, pt);
			else memcpy(b + RTP_HDR, &p, sizeof p);
#ifdef WITH_SRTP
			if (cfg.srtp && (s->id & 1) == 0) srtp_protect(srtp_tx, b, &len);
#endif
			iov[n] = (struct iovec){ b, (size_t)len };
			msgs[n].msg_hdr = (struct msghdr){ .msg_name = &s->to, .msg_namelen = sizeof s->to, .msg_iov = &iov[n], .msg_iovlen = 1 };
			n++;
			*next = (*next + 1) % nstreams;
		}
		/* A full relay socket drops on its side; a failed send here is counted as sent and lost. */
		(void)sendmmsg(fd, msgs, (unsigned)n, 0);
		sent += (uint64_t)n;
		count -= n;
	}
	return sent;
}

static double cpu_seconds_self(void) {
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

/* utime + stime of the whole relay process (all threads) in seconds, or -1 when unreadable. */
static double cpu_seconds_of(int pid) {
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f) return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may contain spaces */
	unsigned long utime, stime;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy time of the whole machine (all CPUs) in seconds: the rest of it is other processes' load. */
static double cpu_seconds_host(void) {
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	if (!f) return -1;
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8) return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv) {
	if (argc == 2 && !strcmp(argv[1], "--features")) {
#ifdef WITH_SRTP
		puts("srtp");
#endif
		return 0;
	}
	parse_args(argc, argv);
	int k = cfg.sockets, nstreams = 2 * cfg.calls;
	int *fds = calloc((size_t)(2 * k), sizeof *fds);
	uint16_t *ports = calloc((size_t)(2 * k), sizeof *ports);
	struct stream *streams = calloc((size_t)nstreams, sizeof *streams);
	if (!fds || !ports || !streams) die("calloc");
	for (int i = 0; i < 2 * k; i++) fds[i] = bind_outside_range(&ports[i]);
	for (int side = 0; side < 2; side++) {
		printf("%c", side ? 'B' : 'A');
		for (int i = 0; i < k; i++) printf(" %u", ports[side * k + i]);
		printf("\n");
	}
	fflush(stdout);

	/* The harness sets up the calls now; a harness that died must not leave this process behind. */
	alarm(600);
	unsigned *relay_ports = calloc((size_t)nstreams, sizeof *relay_ports);
	if (!relay_ports) die("calloc");
#ifdef WITH_SRTP
	if (cfg.srtp) {
		if (srtp_init() != srtp_err_status_ok) { fprintf(stderr, "loadgen: srtp_init failed\n"); return 1; }
		srtp_tx = srtp_session(cfg.srtp_key, ssrc_any_outbound);
		srtp_rx = calloc((size_t)cfg.calls, sizeof *srtp_rx);
		if (!srtp_rx) die("calloc");
	}
#endif
	for (int c = 0; c < cfg.calls; c++) {
		if (scanf("%u %u", &relay_ports[2 * c], &relay_ports[2 * c + 1]) != 2) { fprintf(stderr, "loadgen: expected %d relay port pairs on stdin\n", cfg.calls); return 1; }
#ifdef WITH_SRTP
		char hex[2 * KEY_LEN + 1];
		unsigned char key[KEY_LEN];
		if (cfg.srtp) {
			if (scanf("%60s", hex) != 1 || unhex(hex, key, KEY_LEN)) { fprintf(stderr, "loadgen: call %d: expected the relay's SRTP key\n", c); return 1; }
			srtp_rx[c] = srtp_session(key, ssrc_any_inbound);
		}
#endif
	}
	/*
	 * streams[] is in send order, socket-major (socket 0's A->B streams, then its B->A streams, then
	 * socket 1...), so consecutive packets share a socket and batch into one sendmmsg; every stream
	 * still gets exactly one packet per round, so each is paced at rate / nstreams.
	 */
	int o = 0;
	for (int sock = 0; sock < k; sock++)
		for (int dir = 0; dir < 2; dir++)
			for (int c = sock; c < cfg.calls; c += k)
				streams[o++] = (struct stream){
					.id = (uint32_t)(2 * c + dir),
					.fd = fds[dir * k + sock],
					.to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)relay_ports[2 * c + dir]), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
					.seq = (uint16_t)(c * 7),
				};
	alarm((unsigned)(cfg.warmup + cfg.window + cfg.drain) + 30);

	int ep = epoll_create1(0), tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (ep < 0 || tfd < 0) die("epoll/timerfd");
	struct itimerspec tick = { .it_interval = { 0, TICK_NS }, .it_value = { 0, TICK_NS } };
	timerfd_settime(tfd, 0, &tick, NULL);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)(2 * k) };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	for (int i = 0; i < 2 * k; i++) {
		ev.data.u32 = (uint32_t)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}

	if (cfg.opus_len) {
		if (cfg.sockets != cfg.calls) { fprintf(stderr, "loadgen: --opus-payload needs --sockets equal to --calls\n"); return 2; }
		/* 512 KiB per stream: a trial sends far fewer than 65,536 packets per stream, so no number repeats. */
		sent_at = calloc((size_t)nstreams * 65536, sizeof *sent_at);
		if (!sent_at) die("calloc");
	}
	for (int i = 0; i < (int)sizeof pcmu_tone; i++) pcmu_tone[i] = ulaw_of((int)(8000 * sin(2 * M_PI * 1000 * i / 8000)));
	int64_t t0 = now_ns(CLOCK_MONOTONIC);
	int64_t win_start = t0 + (int64_t)(cfg.warmup * 1e9), win_end = win_start + (int64_t)(cfg.window * 1e9);
	int64_t stop = win_end + (int64_t)(cfg.drain * 1e9);
	uint64_t sent_total = 0, sent_window = 0;
	double gen_cpu0 = 0, gen_cpu1 = 0, relay_cpu0 = -1, relay_cpu1 = -1, host0 = -1, host1 = -1;
	int next = 0, phase = 0; /* 0 warm-up, 1 window, 2 drain */
	struct epoll_event events[64];
	while (1) {
		int64_t now = now_ns(CLOCK_MONOTONIC);
		if (now >= stop) break;
		if (phase == 0 && now >= win_start) {
			phase = 1;
			gen_cpu0 = cpu_seconds_self();
			host0 = cpu_seconds_host();
			if (cfg.relay_pid) relay_cpu0 = cpu_seconds_of(cfg.relay_pid);
		}
		if (phase == 1 && now >= win_end) {
			phase = 2;
			gen_cpu1 = cpu_seconds_self();
			host1 = cpu_seconds_host();
			if (cfg.relay_pid) relay_cpu1 = cpu_seconds_of(cfg.relay_pid);
		}
		int n = epoll_wait(ep, events, 64, 10);
		if (n < 0 && errno != EINTR) die("epoll_wait");
		for (int i = 0; i < n; i++) {
			uint32_t id = events[i].data.u32;
			if (id == (uint32_t)(2 * k)) {
				uint64_t expirations;
				if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("timerfd");
				/* With --opus-payload sending goes on through the drain, out of the window: a codec that holds a
				 * packet until the next one arrives (rtpengine's Opus path does) still lets the last ones out. */
				if (phase == 2 && !cfg.opus_len) continue;
				now = now_ns(CLOCK_MONOTONIC);
				int64_t due = (int64_t)((double)(now - t0) * cfg.rate / 1e9) - (int64_t)sent_total;
				if (due <= 0) continue;
				if (due > MAX_PER_WAKE) due = MAX_PER_WAKE;
				int in_window = now >= win_start && now < win_end;
				uint64_t s = send_due(streams, nstreams, &next, (int)due, in_window);
				sent_total += s;
				if (in_window) sent_window += s;
			} else {
				receive(fds[id], id < (uint32_t)k ? 1 : 0, (int)(id % (uint32_t)k));
			}
		}
	}

	double window_s = cfg.window;
	double gen_cpu_pct = (gen_cpu1 - gen_cpu0) / window_s * 100;
	double relay_cpu_s = relay_cpu0 >= 0 && relay_cpu1 >= 0 ? relay_cpu1 - relay_cpu0 : -1;
	double loss = sent_window ? 1.0 - (double)rx_window / (double)sent_window : 1.0;
	printf("{\"target_pps\":%.0f,\"achieved_pps\":%.0f,\"sent\":%llu,\"received\":%llu,\"loss\":%.6f,"
	       "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"gen_cpu_pct\":%.1f,\"relay_cpu_s\":%.3f,"
	       "\"host_busy_pct\":%.1f,\"window_s\":%.3f,\"late_or_warmup\":%llu,\"bad\":%llu}\n",
	       cfg.rate, (double)sent_window / window_s, (unsigned long long)sent_window, (unsigned long long)rx_window,
	       loss < 0 ? 0 : loss, percentile_us(0.5), percentile_us(0.99), (double)max_ns / 1000.0, gen_cpu_pct,
	       relay_cpu_s, host0 >= 0 && host1 >= 0 ? (host1 - host0) / window_s * 100 : -1, window_s, (unsigned long long)rx_other, (unsigned long long)rx_bad);
	return 0;
}
