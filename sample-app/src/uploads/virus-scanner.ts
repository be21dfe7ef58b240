import { Injectable } from '@nestjs/common';

// The EICAR test signature: what every antivirus, ClamAV included, reports as infected.
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** Stands in for the ClamAV daemon. */
@Injectable()
export class VirusScanner {
  isInfected(content: Buffer): boolean {
    return content.includes(EICAR);
  }
}
