// browser: the demo page in headless Chromium, as a newcomer sees it: the page loads through the
// gateway, its chat connects over WebSocket through the gateway, a message typed in the page reaches
// another member of the room, and the HTTP buttons answer. Skipped (with a reason) where no Chromium
// is installed; .ci/run installs it.
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { expect, onTestFinished, test } from 'vitest';
import WebSocket from 'ws';
import { chromium } from 'playwright-core';
import { startCli } from '../../helpers/cli.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

test.skipIf(!hasChromium)('the demo page chats through the gateway in a real browser', async () => {
  const cli = startCli(['demo', '--port', '0', '--admin', '127.0.0.1:0']);
  const { listeners } = await cli.ports();
  const base = `http://127.0.0.1:${listeners[0]}`;

  // Another member of the room, outside the browser.
  const peer = new WebSocket(`ws://127.0.0.1:${listeners[0]}/ws/chat?nick=peer`);
  onTestFinished(() => peer.terminate());
  await once(peer, 'open');
  const heard = new Promise<{ from: string; text: string }>((resolve) => {
    peer.on('message', (data: Buffer) => {
      const event = JSON.parse(data.toString()) as { type: string; from: string; text: string };
      if (event.type === 'message' && event.from === 'browser') resolve(event);
    });
  });

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  onTestFinished(() => browser.close());
  const page = await browser.newPage();
  await page.addInitScript(() => localStorage.setItem('wsgate-demo-nick', 'browser'));
  await page.goto(`${base}/`);
  expect(await page.title()).toBe('wsgate demo');

  await page.fill('#nick', 'browser');
  await page.click('#nick-form button');
  await page.locator('#status', { hasText: 'connected' }).waitFor();
  await page.fill('#text', 'hello from the page');
  await page.click('#send');
  expect(await heard).toMatchObject({ from: 'browser', text: 'hello from the page' });
  // The page shows its own message too (the room echoes to the sender).
  await page.locator('#log', { hasText: 'hello from the page' }).waitFor();

  // An HTTP button: /ping is answered by the gateway itself.
  await page.getByRole('button', { name: 'GET /ping' }).click();
  await page.locator('#result', { hasText: 'pong' }).waitFor();
});
