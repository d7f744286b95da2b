/**
 * Group commit, for the stores: while one commit is in flight, the batches that arrive are
 * queued, and the next commit takes all of them at once. Each caller's batch stays atomic (its
 * writes are all in the one atomic commit of its group, or none are), groups are committed in
 * call order, and concurrent callers share one fsync (or one transaction) instead of waiting
 * for one each. The store supplies `commit`, which writes a group and says, per member, whether
 * that member was refused (a compare-and-set that did not hold), or throws to fail them all.
 */

/** One caller's batch in a group. */
export type Member<E, C> = { ops: readonly E[]; sync: boolean; expect: readonly C[] };

/**
 * Writes a group atomically: `sync` when any member asked for it. Returns, in member order, the
 * error of each member that was refused (and left out of the commit), or nothing when all were
 * taken; throws to reject every member.
 */
export type CommitGroup<E, C> = (members: readonly Member<E, C>[], sync: boolean) => Promise<readonly (Error | undefined)[] | void>;

type Waiting<E, C> = Member<E, C> & { resolve(): void; reject(e: Error): void };

export class GroupCommit<E, C = never> {
  readonly #commit: CommitGroup<E, C>;
  #queued: Waiting<E, C>[] = [];
  #writing = false;
  #drained: Promise<void> = Promise.resolve();

  constructor(commit: CommitGroup<E, C>) {
    this.#commit = commit;
  }

  /** Queue a batch; resolves once its group is committed, rejects with why it was not. */
  add(ops: readonly E[], sync: boolean, expect: readonly C[] = []): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ ops, sync, expect, resolve, reject });
      if (!this.#writing) this.#drained = this.#drain();
    });
  }

  /** Resolves when nothing is queued or in flight (a close waits for it). */
  idle(): Promise<void> {
    return this.#drained;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queued.length) {
      const group = this.#queued;
      this.#queued = [];
      try {
        const refused =
          (await this.#commit(
            group,
            group.some((m) => m.sync),
          )) ?? [];
        group.forEach((m, i) => {
          const e = refused[i];
          if (e) m.reject(e);
          else m.resolve();
        });
      } catch (err) {
        for (const m of group) m.reject(err as Error);
      }
    }
    this.#writing = false;
  }
}
