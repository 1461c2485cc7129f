/** Ancestry and grain in a join tree (src/core/plan/grain.ts). */
import { describe, expect, it } from 'vitest';
import type { JoinEdge, SourceModel } from '../../src/core/model/types.js';
import {
  ancestorsOrSelf,
  grainOf,
  isAncestorOrSelf,
  isBelow,
  oneValuedPerRow,
} from '../../src/core/plan/grain.js';
import type { TreeNode } from '../../src/core/plan/spec.js';

let ids = 0;
function node(key: string, parent?: TreeNode, relationship?: JoinEdge['relationship']): TreeNode {
  const n: TreeNode = {
    id: ids++,
    key,
    source: { name: key } as SourceModel,
    children: [],
    ...(parent ? { parent, edge: { relationship } as JoinEdge } : {}),
  };
  parent?.children.push(n);
  return n;
}

// customer -< orders -< order_item >- product; customer >- region
const customer = node('customer');
const region = node('region', customer, 'many_to_one');
const orders = node('orders', customer, 'one_to_many');
const item = node('order_item', orders, 'one_to_many');
const product = node('product', item, 'many_to_one');

describe('ancestry', () => {
  it('walks up to the root, or to a top', () => {
    expect(ancestorsOrSelf(product)).toEqual([product, item, orders, customer]);
    expect(ancestorsOrSelf(product, orders)).toEqual([product, item, orders]);
    expect(isAncestorOrSelf(orders, product)).toBe(true);
    expect(isAncestorOrSelf(region, product)).toBe(false);
    expect(isAncestorOrSelf(customer, product, orders)).toBe(false);
    expect(isBelow(item, orders)).toBe(true);
    expect(isBelow(orders, orders)).toBe(false);
    expect(isBelow(region, orders)).toBe(false);
  });
});

describe('grain', () => {
  it('is the nodes with every ancestor', () => {
    expect(grainOf([product])).toEqual(new Set([product, item, orders, customer]));
    expect(grainOf([region, customer])).toEqual(new Set([region, customer]));
    expect(grainOf([product], item)).toEqual(new Set([product, item]));
  });

  it('a value is one per row when every one-to-many join above it is in the grain', () => {
    const byCustomer = grainOf([customer]);
    expect(oneValuedPerRow(region, byCustomer)).toBe(true);
    expect(oneValuedPerRow(orders, byCustomer)).toBe(false);
    expect(oneValuedPerRow(product, grainOf([orders]))).toBe(false);
    expect(oneValuedPerRow(product, grainOf([item]))).toBe(true);
    // Bounded by a top, only the joins below it count.
    expect(oneValuedPerRow(product, grainOf([item], orders), item)).toBe(true);
  });
});
