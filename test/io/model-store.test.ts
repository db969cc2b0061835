import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseStoreWeights, encodeSafetensors, memoryStore, type StateDict } from '../../src/index.js';

const weights = (v: number, metadata: Record<string, string> = {}): Uint8Array =>
  encodeSafetensors(new Map([['w', { shape: [1], dtype: 'float32', data: Float32Array.of(v) }]]) as StateDict, metadata);

test('chooseStoreWeights: best where training wrote one, else the highest epoch number (past 999 too), else none', async () => {
  const store = memoryStore();
  assert.equal(await chooseStoreWeights(store), undefined);
  await store.set('resume.safetensors', weights(-1));
  assert.equal(await chooseStoreWeights(store), undefined);
  for (const epoch of [2, 999, 1000, 10]) await store.set(`epoch-${String(epoch).padStart(3, '0')}.safetensors`, weights(epoch));
  const newest = await chooseStoreWeights(store);
  assert.equal(newest?.tensors.get('w')?.data[0], 1000);
  assert.match(newest?.chosen ?? '', /^newest: epoch-1000\.safetensors/);
  await store.set('best.safetensors', weights(7, { epoch: '7', val_loss: '0.25' }));
  const best = await chooseStoreWeights(store);
  assert.equal(best?.tensors.get('w')?.data[0], 7);
  assert.equal(best?.chosen, 'best: epoch 7, lowest validation loss (0.2500)');
});
