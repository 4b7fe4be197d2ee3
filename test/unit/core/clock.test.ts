import { describe, test, expect, vi, afterEach } from 'vitest';
import { Clock, ManualClock, type Sweepable } from '../../../src/core/clock.js';

// A member that records the time of every sweep it gets.
function recorder(onSweep: (nowMs: number) => void = () => undefined): Sweepable & { seen: number[] } {
  const seen: number[] = [];
  return {
    seen,
    sweep(nowMs) {
      seen.push(nowMs);
      onSweep(nowMs);
    },
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Clock', () => {
  test('sweeps its members with a fresh time on every tick, once the first member joins', async () => {
    const clock = new Clock(10);
    const before = Date.now();
    const swept = new Promise<number>((resolve) => clock.add(recorder(resolve)));
    const now = await swept;
    clock.stop();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBe(clock.nowMs);
  });

  test('arms no timer without members, and stops when the last one leaves', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const clock = new Clock(100);
    expect(vi.getTimerCount()).toBe(0);
    const a = recorder();
    const b = recorder();
    clock.add(a);
    clock.add(b);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(250);
    expect(a.seen).toHaveLength(2);
    clock.delete(a);
    expect(vi.getTimerCount()).toBe(1);
    clock.delete(b);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(500);
    expect(b.seen).toHaveLength(2);
  });

  test('refresh() reads the wall clock; between ticks nowMs keeps the last tick', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: 1_000_000 });
    const clock = new Clock(100);
    clock.add(recorder());
    vi.advanceTimersByTime(150);
    expect(clock.nowMs).toBe(1_000_100);
    expect(clock.refresh()).toBe(1_000_150);
    expect(clock.nowMs).toBe(1_000_150);
    clock.stop();
  });

  test('a clock restarted after a pause refreshes its time before the first tick', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: 5_000 });
    const clock = new Clock(100);
    const m = recorder();
    clock.add(m);
    clock.delete(m);
    vi.setSystemTime(65_000);
    clock.add(m);
    expect(clock.nowMs).toBe(65_000);
    clock.stop();
  });

  test('setTick clamps to [10 ms, 1 s] and restarts a running timer at the new tick', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: 0 });
    const clock = new Clock(1000);
    clock.setTick(1);
    expect(clock.tick).toBe(10);
    clock.setTick(60_000);
    expect(clock.tick).toBe(1000);
    clock.setTick(12.5);
    expect(clock.tick).toBe(12);
    const m = recorder();
    clock.add(m);
    vi.advanceTimersByTime(30);
    clock.setTick(50);
    vi.advanceTimersByTime(100);
    expect(m.seen).toEqual([12, 24, 80, 130]);
    expect(vi.getTimerCount()).toBe(1);
    clock.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('ManualClock', () => {
  test('starts at the given time, never reads Date.now() and never arms a timer', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'setTimeout', 'Date'], now: 9_999_999 });
    const clock = new ManualClock(10, 1_000);
    const m = recorder();
    clock.add(m);
    expect(vi.getTimerCount()).toBe(0);
    expect(clock.nowMs).toBe(1_000);
    expect(clock.refresh()).toBe(1_000);
    vi.advanceTimersByTime(1_000);
    expect(m.seen).toEqual([]);
    expect(clock.refresh()).toBe(1_000);
  });

  test('advance() runs one sweep per tick crossed, each at its own tick time', () => {
    const clock = new ManualClock(10, 500);
    const m = recorder();
    clock.add(m);
    clock.advance(9);
    expect(m.seen).toEqual([]);
    clock.advance(26);
    expect(m.seen).toEqual([510, 520, 530]);
    clock.advance(5);
    expect(m.seen).toEqual([510, 520, 530, 540]);
  });

  test('nowMs lags the manual time between ticks, as a real clock lags Date.now(), until refresh()', () => {
    const clock = new ManualClock(10, 0);
    clock.add(recorder());
    clock.advance(15);
    expect(clock.nowMs).toBe(10);
    expect(clock.refresh()).toBe(15);
    expect(clock.nowMs).toBe(15);
  });

  test('the tick grid starts when the first member joins, and again after the clock stopped', () => {
    const clock = new ManualClock(10, 0);
    clock.advance(7); // no members: nothing runs, time still moves
    const m = recorder();
    clock.add(m);
    clock.advance(10);
    expect(m.seen).toEqual([17]);
    clock.delete(m);
    clock.advance(100);
    expect(m.seen).toEqual([17]);
    clock.add(m);
    clock.advance(10);
    expect(m.seen).toEqual([17, 127]);
  });

  test('setTick moves the grid as a restarted timer would', () => {
    const clock = new ManualClock(10, 0);
    const m = recorder();
    clock.add(m);
    clock.advance(15);
    clock.setTick(20);
    clock.advance(45);
    expect(m.seen).toEqual([10, 35, 55]);
  });

  test('a sweep that removes the last member stops the sweeps left in the same advance', () => {
    const clock = new ManualClock(10, 0);
    const m: Sweepable & { seen: number[] } = recorder((now) => {
      if (now >= 20) clock.delete(m);
    });
    clock.add(m);
    clock.advance(100);
    expect(m.seen).toEqual([10, 20]);
  });

  test('a deadline checked on the sweep fires on the first tick at or after it, as with real ticks', () => {
    const clock = new ManualClock(25, 0);
    const fired: number[] = [];
    const deadlineMs = 60;
    clock.add({
      sweep(now) {
        if (now >= deadlineMs && fired.length === 0) fired.push(now);
      },
    });
    clock.advance(74);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([75]);
  });
});
