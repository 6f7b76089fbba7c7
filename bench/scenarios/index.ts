// Every scenario family `make bench` knows, in the order it runs them. Adding a family: a module in this
// directory exporting a ScenarioFamily, and one line here.
import type { ScenarioFamily } from '../lib/scenario.js';
import { backlogFamily, bare } from './bare.js';
import { checkFamily } from './check.js';
import { auditFamily } from './audit.js';
import { cacheFamily } from './cache.js';
import { churnFamily, idleFamily } from './churn.js';
import { falco } from './falco.js';
import { ownedFamily } from './owned.js';
import { ownersFamily } from './owners.js';
import { writeCostFamily } from './write-cost.js';

export const FAMILIES: readonly ScenarioFamily[] = [
  cacheFamily,
  bare,
  backlogFamily,
  ownersFamily,
  writeCostFamily,
  ownedFamily,
  churnFamily,
  idleFamily,
  auditFamily,
  falco,
  checkFamily,
];
