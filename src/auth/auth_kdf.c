/*
 * auth_kdf: the password KDF (Argon2id, libargon2) on one worker thread
 * of its own, so that the tens of milliseconds and tens of MiB a hash
 * costs never touch the loop.
 *
 * The loop queues jobs (a locked list, at most AUTH_KDF_QUEUE); the
 * worker takes them one at a time, verifies and/or hashes, wipes and
 * frees the passwords, and puts the job on the done list; one ev_async
 * wakes the loop, which hands each done job back to its owner in order.
 * One thread is on purpose: logins are rare, and a second concurrent
 * hash would double the memory (64 MiB each) an attacker can make the
 * daemon use; a queue that is full refuses at once (AUTH_E_BUSY).
 *
 * An unknown user costs the same as a known one: with no hash to verify
 * against, the worker hashes the password with the configured
 * parameters and throws the result away.
 *
 * Must never: call back into auth from the worker thread, log (the loop
 * logs what the job carries back), keep a password after the job.
 * Depends on libargon2, OpenSSL (salt, wiping).
 */
#include "auth/auth_int.h"
#include "util/mem.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SALT_LEN 16
#define HASH_LEN 32

struct auth__kdf {
	struct ev_loop *loop;
	void (*done)(struct auth__job *j);
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct auth__job *in_head, *in_tail;   /* waiting for the worker */
	struct auth__job *out_head, *out_tail; /* finished, for the loop */
	size_t queued;                         /* in the queue or running */
	int stop;
	int started;
	ev_async wake;
};

void auth__kdf_prefix(char *buf, size_t n, unsigned t, unsigned m, unsigned p)
{
	snprintf(buf, n, "$argon2id$v=19$m=%u,t=%u,p=%u$", m, t, p);
}

char *auth__kdf_hash(const char *password, unsigned t, unsigned m, unsigned p, int *rc)
{
	unsigned char salt[SALT_LEN];
	if (auth__random(salt, sizeof salt) != 0) {
		*rc = ARGON2_MISSING_ARGS; /* stands for "no salt" */
		return NULL;
	}
	size_t len = argon2_encodedlen(t, m, p, SALT_LEN, HASH_LEN, Argon2_id) + 1;
	char *out = xmalloc(len);
	*rc = argon2id_hash_encoded(t, m, p, password, strlen(password), salt, SALT_LEN, HASH_LEN,
	                            out, len);
	if (*rc != ARGON2_OK) {
		free(out);
		return NULL;
	}
	return out;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The worker's part of a job (no lock held). */
static void run(struct auth__job *j)
{
	double t0 = mono();
	int rc = ARGON2_OK;
	if (j->password) {
		if (j->verify_phc) {
			rc = argon2id_verify(j->verify_phc, j->password, strlen(j->password));
			j->verified = rc == ARGON2_OK;
			if (rc == ARGON2_VERIFY_MISMATCH)
				rc = ARGON2_OK;
		} else {
			/* unknown user: the same work, and no match */
			free(auth__kdf_hash(j->password, j->t, j->m, j->p, &rc));
			j->verified = 0;
		}
		if (rc == ARGON2_OK && j->verified && j->rehash && !j->new_password) {
			char want[96];
			auth__kdf_prefix(want, sizeof want, j->t, j->m, j->p);
			if (strncmp(j->verify_phc, want, strlen(want)) != 0)
				j->new_phc = auth__kdf_hash(j->password, j->t, j->m, j->p, &rc);
		}
	}
	if (rc == ARGON2_OK && j->new_password && (!j->password || j->verified))
		j->new_phc = auth__kdf_hash(j->new_password, j->t, j->m, j->p, &rc);
	j->kdf_err = rc;
	auth__wipe_free(j->password);
	auth__wipe_free(j->new_password);
	j->password = j->new_password = NULL;
	j->kdf_seconds = mono() - t0;
}

static void *worker(void *arg)
{
	struct auth__kdf *k = arg;
	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (!k->stop && !k->in_head)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->stop)
			break;
		struct auth__job *j = k->in_head;
		k->in_head = j->next;
		if (!k->in_head)
			k->in_tail = NULL;
		j->next = NULL;
		pthread_mutex_unlock(&k->lock);
		run(j);
		pthread_mutex_lock(&k->lock);
		if (k->out_tail)
			k->out_tail->next = j;
		else
			k->out_head = j;
		k->out_tail = j;
		pthread_mutex_unlock(&k->lock);
		ev_async_send(k->loop, &k->wake);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	struct auth__kdf *k = w->data;
	pthread_mutex_lock(&k->lock);
	struct auth__job *list = k->out_head;
	k->out_head = k->out_tail = NULL;
	pthread_mutex_unlock(&k->lock);
	while (list) {
		struct auth__job *j = list;
		list = j->next;
		j->next = NULL;
		if (!j->finished) {
			pthread_mutex_lock(&k->lock);
			k->queued--;
			pthread_mutex_unlock(&k->lock);
		}
		k->done(j);
	}
}

struct auth__kdf *auth__kdf_new(struct ev_loop *loop, void (*done)(struct auth__job *j), char *err,
                                size_t errlen)
{
	struct auth__kdf *k = xcalloc(1, sizeof *k);
	k->loop = loop;
	k->done = done;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	ev_async_init(&k->wake, on_wake);
	k->wake.data = k;
	ev_async_start(loop, &k->wake);
	/* an idle worker keeps no loop alive */
	ev_unref(loop);
	int rc = pthread_create(&k->thread, NULL, worker, k);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the KDF thread: %s", strerror(rc));
		auth__kdf_free(k);
		return NULL;
	}
	k->started = 1;
	return k;
}

int auth__kdf_full(struct auth__kdf *k)
{
	pthread_mutex_lock(&k->lock);
	int full = k->queued >= AUTH_KDF_QUEUE;
	pthread_mutex_unlock(&k->lock);
	return full;
}

int auth__kdf_submit(struct auth__kdf *k, struct auth__job *j)
{
	pthread_mutex_lock(&k->lock);
	if (k->queued >= AUTH_KDF_QUEUE) {
		pthread_mutex_unlock(&k->lock);
		return -1;
	}
	k->queued++;
	j->next = NULL;
	if (k->in_tail)
		k->in_tail->next = j;
	else
		k->in_head = j;
	k->in_tail = j;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

void auth__kdf_post(struct auth__kdf *k, struct auth__job *j)
{
	/* j->finished is set: on_wake does not count it as a KDF job */
	pthread_mutex_lock(&k->lock);
	j->next = NULL;
	if (k->out_tail)
		k->out_tail->next = j;
	else
		k->out_head = j;
	k->out_tail = j;
	pthread_mutex_unlock(&k->lock);
	ev_async_send(k->loop, &k->wake);
}

size_t auth__kdf_queued(struct auth__kdf *k)
{
	pthread_mutex_lock(&k->lock);
	size_t n = k->queued;
	pthread_mutex_unlock(&k->lock);
	return n;
}

void auth__kdf_free(struct auth__kdf *k)
{
	if (!k)
		return;
	if (k->started) {
		pthread_mutex_lock(&k->lock);
		k->stop = 1;
		pthread_cond_signal(&k->cond);
		pthread_mutex_unlock(&k->lock);
		pthread_join(k->thread, NULL);
	}
	/* the jobs in both lists belong to auth (a->jobs): it frees them,
	 * passwords included */
	ev_ref(k->loop);
	ev_async_stop(k->loop, &k->wake);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
