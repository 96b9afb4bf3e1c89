#include "mm/palloc/buddy.h"

namespace kmem {

void BuddyBackend::Validate() const { buddy_.Validate(); }

}  // namespace kmem
